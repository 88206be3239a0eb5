import Foundation

/// What every page needs to know about the request: its CSP nonce, who is signed in, the CSRF
/// token for its forms and which views exist.
struct PageContext: Sendable {
    var title: String
    var nonce: String
    /// The form token for the browser's CSRF cookie (see ``WebAuth``).
    var csrf: String
    /// Who the request acts as; `local` on an open server.
    var principal: String?
    /// Signed in with the login form (a "Sign out" button is shown).
    var hasSession: Bool = false
    /// Live control is available (settings, mutes, pause).
    var controls: Bool = false
    /// Occupancy history is kept (charts).
    var charts: Bool = false
}

/// The header, navigation and footer shared by the pages.
enum PageChrome {
    enum Section: String { case events, charts, settings, login, zone }

    static func begin(_ c: PageContext, pageTitle: String, subtitle: String, current: Section, into w: inout ByteWriter) {
        w.raw(
            """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="referrer" content="no-referrer">
            <title>
            """)
        w.html(pageTitle)
        w.raw(" · ")
        w.html(c.title)
        w.raw("</title>\n<style nonce=\"")
        w.raw(c.nonce)
        w.raw("\">")
        w.raw(PageView.css)
        w.raw(css)
        w.raw("</style>\n</head>\n<body>\n<a class=\"skip\" href=\"#main\">Skip to content</a>\n<header class=\"top\"><div><h1>")
        w.html(c.title)
        w.raw("</h1><p class=\"sub\">")
        w.html(subtitle)
        w.raw("</p></div>")
        if current != .login {
            w.raw("<nav class=\"nav\" aria-label=\"Views\">")
            link("/", "Events", current == .events, into: &w)
            if c.charts { link("/charts", "Charts", current == .charts || current == .zone, into: &w) }
            if c.controls { link("/settings", "Settings", current == .settings, into: &w) }
            if c.hasSession {
                w.raw("<form method=\"post\" action=\"/logout\" class=\"inline\">")
                csrfField(c, into: &w)
                w.raw("<span class=\"muted who\">")
                w.html(c.principal ?? "")
                w.raw("</span> <button type=\"submit\" class=\"link\">Sign out</button></form>")
            }
            w.raw("</nav>")
        }
        w.raw("<p class=\"tz\" id=\"tz-note\">Times in UTC</p></header>\n<main id=\"main\">\n")
    }

    static func end(_ c: PageContext, script: String, into w: inout ByteWriter) {
        w.raw("</main>\n<footer><p>CrowdKit · <a href=\"/api/events\">JSON</a> · <a href=\"/api/zones\">zones</a></p></footer>\n")
        w.raw("<script nonce=\"")
        w.raw(c.nonce)
        w.raw("\">")
        w.raw(script)
        w.raw("</script>\n</body>\n</html>\n")
    }

    static func link(_ href: String, _ text: String, _ current: Bool, into w: inout ByteWriter) {
        w.raw("<a href=\"")
        w.raw(href)
        w.raw(current ? "\" aria-current=\"page\">" : "\">")
        w.raw(text)
        w.raw("</a>")
    }

    static func csrfField(_ c: PageContext, into w: inout ByteWriter) {
        w.raw("<input type=\"hidden\" name=\"csrf\" value=\"")
        w.raw(c.csrf)
        w.raw("\">")
    }

    /// A one-button form that posts to `action` (mute, unmute, pause, resume).
    static func button(
        _ c: PageContext, action: String, label: String, fields: [(String, String)] = [], next: String, style: String = "small",
        into w: inout ByteWriter
    ) {
        w.raw("<form method=\"post\" class=\"inline\" action=\"")
        w.html(action)
        w.raw("\">")
        csrfField(c, into: &w)
        for (name, value) in fields + [("next", next)] {
            w.raw("<input type=\"hidden\" name=\"")
            w.html(name)
            w.raw("\" value=\"")
            w.html(value)
            w.raw("\">")
        }
        w.raw("<button type=\"submit\" class=\"")
        w.raw(style)
        w.raw("\">")
        w.html(label)
        w.raw("</button></form>")
    }

    /// Localizes `<time>` elements, as the events page does.
    static let script = """
        (function(){"use strict";
        var fmt=new Intl.DateTimeFormat(undefined,{dateStyle:"medium",timeStyle:"short"});
        var tz=Intl.DateTimeFormat().resolvedOptions().timeZone||"local time";
        document.querySelectorAll("time[datetime]").forEach(function(t){var d=new Date(t.dateTime);
        if(!isNaN(d)){t.title=t.dateTime;t.textContent=fmt.format(d);}});
        var n=document.getElementById("tz-note");if(n)n.textContent="Times in "+tz;
        })();
        """

    static let css = """
        .nav{display:flex;gap:1.1rem;align-items:center;flex-wrap:wrap;font-weight:600}.nav a{text-decoration:none;padding:.2rem 0}
        .nav a[aria-current=page]{border-bottom:2px solid var(--accent)}
        form.inline{display:inline-flex;gap:.4rem;align-items:center;margin:0}
        button.small{padding:.2rem .65rem;font-size:.8rem}button.link{background:none;color:var(--accent);padding:0}
        button.secondary{background:var(--idle-bg);color:var(--fg)}button.danger{background:var(--bad);color:var(--card)}
        .who{font-weight:400}
        .grid{display:grid;gap:.9rem 1.2rem;grid-template-columns:repeat(auto-fill,minmax(13rem,1fr));margin:0 0 1rem}
        .field{display:flex;flex-direction:column;gap:.2rem}.field label{font-size:.8rem;color:var(--muted);font-weight:600}
        .field input,.field select{min-width:0;width:100%}.field .hint{font-size:.75rem;color:var(--muted)}
        .field.invalid input,.field.invalid textarea{border-color:var(--bad);outline:1px solid var(--bad)}
        .error{color:var(--bad);font-size:.8rem;font-weight:600;margin:0}
        select,textarea{font:inherit;padding:.4rem .55rem;border:1px solid var(--line);border-radius:8px;background:var(--bg);color:var(--fg)}
        textarea{width:100%;min-height:16rem;font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.85rem}
        .notice{color:var(--ok);background:var(--ok-bg);padding:.6rem .8rem;border-radius:8px}
        .row-actions{display:flex;gap:.4rem;flex-wrap:wrap}
        .charts{display:grid;gap:1rem;grid-template-columns:repeat(auto-fill,minmax(20rem,1fr))}
        .chart-card{border:1px solid var(--line);border-radius:10px;padding:.6rem .75rem;display:grid;gap:.3rem}
        .chart-card h3{margin:0;font-size:.95rem}.chart-card h3 a{text-decoration:none;color:inherit}
        svg.chart{display:block;width:100%;height:auto;overflow:visible}
        svg.chart .area{fill:color-mix(in srgb,var(--accent) 22%,transparent)}svg.chart .max{fill:none;stroke:var(--accent);stroke-width:1.5}
        svg.chart .mean{fill:none;stroke:var(--muted);stroke-width:1;stroke-dasharray:2 2}
        svg.chart .threshold{stroke:var(--bad);stroke-width:1.2;stroke-dasharray:5 4}
        svg.chart .event{fill:color-mix(in srgb,var(--crowd) 20%,transparent)}
        svg.chart .axis{stroke:var(--line)}svg.chart text{fill:var(--muted);font-size:11px;font-family:system-ui,sans-serif}
        svg.chart .tlabel{fill:var(--bad)}
        .legend{display:flex;gap:1rem;flex-wrap:wrap;font-size:.8rem;color:var(--muted);margin:.3rem 0 0}
        .legend span::before{content:"";display:inline-block;width:.9rem;height:.6rem;margin-right:.35rem;vertical-align:middle;border-radius:2px}
        .legend .l-max::before{background:var(--accent)}.legend .l-thr::before{background:var(--bad)}.legend .l-evt::before{background:var(--crowd-bg)}
        .legend .l-mean::before{background:var(--muted)}
        .ranges{display:flex;gap:.75rem;margin:0 0 .75rem}.ranges a[aria-current=page]{font-weight:700;text-decoration:none}
        .login{max-width:26rem;margin:3rem auto}
        dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem;margin:0}dl.kv dt{color:var(--muted)}dl.kv dd{margin:0}
        """
}
