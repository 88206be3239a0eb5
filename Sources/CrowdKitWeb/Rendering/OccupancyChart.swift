import CrowdKitCore
import Foundation

/// A zone's occupancy as inline SVG, drawn on the server (no script, no library): the largest
/// count of each step as a filled step line, the mean as a dotted line, the threshold (`minPeople`)
/// as a dashed line, crowd events as shaded bands. Steps without readings leave a gap.
struct OccupancyChart {
    var points: [OccupancyPoint]
    var from: Int64
    var to: Int64
    var step: Int64
    var threshold: Double?
    /// Crowd events: start and end (`nil`: still going on).
    var events: [(start: Int64, end: Int64?)]
    var width = 960
    var height = 260
    /// A small chart (the overview): fewer labels, no mean line.
    var compact = false
    /// The accessible name, e.g. "Occupancy of Lobby / Full frame, last 24 hours".
    var label: String

    func render(into w: inout ByteWriter) {
        let left = compact ? 22 : 36
        let right = compact ? 4 : 12
        let top = compact ? 6 : 12
        let bottom = compact ? 16 : 26
        let plotW = Double(width - left - right)
        let plotH = Double(height - top - bottom)
        let peak = points.reduce(0) { Swift.max($0, $1.max) }
        let yMax = Self.niceCeiling(Swift.max(Double(peak), (threshold ?? 0) * 1.15, 4))
        let span = Double(Swift.max(to - from, 1))
        func x(_ t: Int64) -> Double { Double(left) + plotW * Double(Swift.min(Swift.max(t, from), to) - from) / span }
        func y(_ v: Double) -> Double { Double(top) + plotH * (1 - Swift.min(v, yMax) / yMax) }

        w.raw("<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" viewBox=\"0 0 ")
        w.int(width)
        w.raw(" ")
        w.int(height)
        w.raw("\" width=\"")
        w.int(width)
        w.raw("\" height=\"")
        w.int(height)
        w.raw("\" data-points=\"")
        w.int(points.count)
        w.raw("\" data-peak=\"")
        w.int(peak)
        w.raw("\"><title>")
        w.html(label)
        w.raw("</title>")
        // crowd events, behind everything
        for e in events {
            let x0 = x(e.start)
            let x1 = x(e.end ?? to)
            guard x1 > x0 || e.end == nil else { continue }
            w.raw("<rect class=\"event\" x=\"")
            number(x0, into: &w)
            w.raw("\" y=\"")
            w.int(top)
            w.raw("\" width=\"")
            number(Swift.max(x1 - x0, 1.5), into: &w)
            w.raw("\" height=\"")
            number(plotH, into: &w)
            w.raw("\"><title>crowd ")
            w.iso(e.start)
            if let end = e.end {
                w.raw(" – ")
                w.iso(end)
            } else {
                w.raw(", ongoing")
            }
            w.raw("</title></rect>")
        }
        // y axis: 0, half, top
        for v in compact ? [0, yMax] : [0, yMax / 2, yMax] {
            w.raw("<line class=\"axis\" x1=\"")
            w.int(left)
            w.raw("\" x2=\"")
            w.int(width - right)
            w.raw("\" y1=\"")
            number(y(v), into: &w)
            w.raw("\" y2=\"")
            number(y(v), into: &w)
            w.raw("\"/><text x=\"")
            w.int(left - 4)
            w.raw("\" y=\"")
            number(y(v) + 4, into: &w)
            w.raw("\" text-anchor=\"end\">")
            number(v, into: &w)
            w.raw("</text>")
        }
        // time labels
        let labels = compact ? 2 : 6
        for i in 0...labels {
            let t = from + Int64(Double(to - from) * Double(i) / Double(labels))
            w.raw("<text x=\"")
            number(x(t), into: &w)
            w.raw("\" y=\"")
            w.int(height - 4)
            w.raw("\" text-anchor=\"")
            w.raw(i == 0 ? "start" : i == labels ? "end" : "middle")
            w.raw("\">")
            timeLabel(t, into: &w)
            w.raw("</text>")
        }
        // occupancy: runs of consecutive steps as filled step lines
        var runs: [[OccupancyPoint]] = []
        for p in points where p.t + step > from && p.t < to {
            if let last = runs.last?.last, p.t - last.t <= step { runs[runs.count - 1].append(p) } else { runs.append([p]) }
        }
        for run in runs {
            // the area: the step line, down to 0 and back; then the line alone
            w.raw("<path class=\"area\" d=\"")
            stepLine(run, x: x, y: y, into: &w)
            w.raw("V")
            number(y(0), into: &w)
            w.raw("H")
            number(x(run[0].t), into: &w)
            w.raw("Z\"/><path class=\"max\" d=\"")
            stepLine(run, x: x, y: y, into: &w)
            w.raw("\"/>")
            if !compact {
                w.raw("<path class=\"mean\" d=\"")
                for (i, p) in run.enumerated() {
                    w.raw(i == 0 ? "M" : "L")
                    number((x(p.t) + x(p.t + step)) / 2, into: &w)
                    w.raw(" ")
                    number(y(p.mean), into: &w)
                }
                w.raw("\"/>")
            }
        }
        if let threshold {
            w.raw("<line class=\"threshold\" x1=\"")
            w.int(left)
            w.raw("\" x2=\"")
            w.int(width - right)
            w.raw("\" y1=\"")
            number(y(threshold), into: &w)
            w.raw("\" y2=\"")
            number(y(threshold), into: &w)
            w.raw("\" data-threshold=\"")
            number(threshold, into: &w)
            w.raw("\"/>")
            if !compact {
                w.raw("<text class=\"tlabel\" x=\"")
                w.int(width - right)
                w.raw("\" y=\"")
                number(y(threshold) - 4, into: &w)
                w.raw("\" text-anchor=\"end\">threshold ")
                number(threshold, into: &w)
                w.raw("</text>")
            }
        }
        if points.isEmpty {
            w.raw("<text x=\"")
            w.int(width / 2)
            w.raw("\" y=\"")
            w.int(top + Int(plotH / 2))
            w.raw("\" text-anchor=\"middle\">no readings in this range</text>")
        }
        w.raw("</svg>")
    }

    /// `HH:MM` (UTC) within a day, `MM-DD` for longer ranges.
    func timeLabel(_ t: Int64, into w: inout ByteWriter) {
        let iso = Format.iso(t)
        if to - from > 2 * 86_400_000 {
            w.raw(String(iso.dropFirst(5).prefix(5)))
        } else {
            w.raw(String(iso.dropFirst(11).prefix(5)))
        }
    }

    func stepLine(_ run: [OccupancyPoint], x: (Int64) -> Double, y: (Double) -> Double, into w: inout ByteWriter) {
        for (i, p) in run.enumerated() {
            w.raw(i == 0 ? "M" : "L")
            number(x(p.t), into: &w)
            w.raw(" ")
            number(y(Double(p.max)), into: &w)
            w.raw("H")
            number(x(p.t + step), into: &w)
        }
    }

    func number(_ v: Double, into w: inout ByteWriter) { Self.number(v, into: &w) }

    /// One decimal at most, written as digits (no formatter: a page draws thousands).
    static func number(_ v: Double, into w: inout ByteWriter) {
        let tenths = Int64((v * 10).rounded())
        if tenths < 0 { w.raw("-") }
        let a = abs(tenths)
        w.int(a / 10)
        if a % 10 != 0 {
            w.raw(".")
            w.int(a % 10)
        }
    }

    /// One decimal at most, no trailing zeros (as ``number(_:into:)`` writes it).
    static func fmt(_ v: Double) -> String {
        var w = ByteWriter(capacity: 16)
        number(v, into: &w)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    /// 4, 5, 8, 10, 15, 20, 25, 40, 50, 80, 100, ... at or above `v`.
    static func niceCeiling(_ v: Double) -> Double {
        var magnitude = 1.0
        while magnitude * 10 < v { magnitude *= 10 }
        for m in [1.0, 1.5, 2, 2.5, 4, 5, 8, 10] where m * magnitude >= v { return m * magnitude }
        return 10 * magnitude
    }
}
