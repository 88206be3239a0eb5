import ArgumentParser

struct ConfigReferenceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config-reference",
        abstract: "Print the configuration reference (Markdown), generated from the code.")

    func run() {
        print(ConfigCatalog.markdown(), terminator: "")
    }
}
