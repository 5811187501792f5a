// qcompress: the headless command line over the workbench's core.
#include "cli.h"
#include "common/error.h"

#include <iostream>

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
        std::cerr << "qcompress: cancelled" << std::endl;
        return 130;
    } catch (const std::exception& e) {
        std::cerr << "qcompress: " << qcw::oneLine(e.what()) << std::endl;
        return 1;
    }
    return 0;
}
