// biasscope-cli: the headless front end (servers, clusters). Thin wiring; the work is in core.
#include <filesystem>
#include <iostream>
#include <new>

#include <CLI/CLI.hpp>

#include "CliSupport.h"
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
    biasscope::cli::addFaithfulnessCommand(app);
    app.add_subcommand("info", "versions of BiasScope, LibTorch and OpenCV; the BLAS kernels, CPU threads and CUDA devices in use")->callback([] {
        biasscope::configureCpuThreads(0);
        for (const auto& [k, v] : biasscope::runtimeInfo()) std::cout << k << ": " << v << "\n";
    });
    // The exit-code contract (docs/cli.md, "Errors"): 0 done; 2 refused input (bad option, file or value), one
    // line that names the option or file; 3 an internal failure (a bug or the machine: out of memory).
    auto fail = [](const std::string& line, int code) {
        biasscope::cli::endProgressLine();
        std::cerr << "biasscope-cli: error: " << line.substr(0, line.find('\n')) << "\n";
        return code;
    };
    if (argc > 1 && argv[1][0] != '-') {  // CLI11 would only say "A subcommand is required"
        bool known = false;
        std::string names;
        for (const auto* s : app.get_subcommands([](CLI::App*) { return true; })) {
            known = known || s->get_name() == argv[1];
            names += (names.empty() ? "" : ", ") + s->get_name();
        }
        if (!known) return fail(std::string("unknown subcommand '") + argv[1] + "' (expected one of " + names + ")", 2);
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
        return fail(e.what(), 2);
    } catch (const biasscope::Error& e) {
        return fail(e.what(), 2);
    } catch (const std::filesystem::filesystem_error& e) {
        // "filesystem error: cannot create directories: Permission denied [/x]" -> "/x: cannot create directories: Permission denied"
        std::string what = e.what();
        const std::string prefix = "filesystem error: ";
        if (what.rfind(prefix, 0) == 0) what = what.substr(prefix.size());
        if (const auto b = what.find(" ["); b != std::string::npos) what = what.substr(0, b);
        return fail(e.path1().string() + ": " + what, 2);
    } catch (const std::bad_alloc&) {
        return fail("out of memory", 3);
    } catch (const std::exception& e) {
        return fail(e.what(), 3);
    }
    return 0;
}
