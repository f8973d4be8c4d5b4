// biasscope-cli: the headless front end (servers, clusters). Thin wiring; the work is in core.
#include <iostream>

#include <CLI/CLI.hpp>

#include "Commands.h"
#include "common/BlasKernels.h"
#include "common/Device.h"
#include "common/Error.h"
#include "common/RuntimeInfo.h"

int main(int argc, char** argv) {
    biasscope::reexecWithBetterBlasKernels(argv);
    CLI::App app{"BiasScope command line: relevance and bias analysis of vision models"};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("biasscope-cli ") + BIASSCOPE_VERSION);
    biasscope::cli::addLrpCommand(app);
    biasscope::cli::addMakeDemoCommand(app);
    biasscope::cli::addFeatherCommand(app);
    biasscope::cli::addPublishedCommand(app);
    biasscope::cli::addStudyCommand(app);
    biasscope::cli::addFigureCommand(app);
    biasscope::cli::addTrainCommand(app);
    biasscope::cli::addDemoCommand(app);
    biasscope::cli::addAiouCommand(app);
    app.add_subcommand("info", "versions of BiasScope, LibTorch and OpenCV; the BLAS kernels, CPU threads and CUDA devices in use")->callback([] {
        biasscope::configureCpuThreads(0);
        for (const auto& [k, v] : biasscope::runtimeInfo()) std::cout << k << ": " << v << "\n";
    });
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    } catch (const biasscope::Error& e) {
        std::cerr << "biasscope-cli: error: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::string what = e.what();
        std::cerr << "biasscope-cli: error: " << what.substr(0, what.find('\n')) << "\n";
        return 3;
    }
    return 0;
}
