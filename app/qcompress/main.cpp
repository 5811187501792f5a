// qcompress: the headless command line over the workbench's core.
#include "cli.h"
#include "common/error.h"

#include <iostream>
#include <string>

int main(int argc, char** argv) {
    CLI::App app{"qcompress: compress Phi language models with quantum-inspired tensor networks"};
    app.set_version_flag("--version", std::string("qcompress ") + QCW_VERSION);
    app.require_subcommand(1);
    qcw::cli::addAllCommands(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    } catch (const qcw::Cancelled&) {
        // Outputs are written atomically, so a cancelled job leaves its --out as it was.
        std::string out;
        for (int i = 1; i < argc; ++i) {
            const std::string a = argv[i];
            if (a == "--out" && i + 1 < argc) out = argv[i + 1];
            else if (a.rfind("--out=", 0) == 0) out = a.substr(6);
        }
        std::cerr << "qcompress: cancelled" << (out.empty() ? std::string() : "; nothing written to " + out) << std::endl;
        return 130;
    } catch (const std::exception& e) {
        std::cerr << "qcompress: " << qcw::oneLine(e.what()) << std::endl;
        return 1;
    }
    return 0;
}
