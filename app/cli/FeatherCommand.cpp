#include <iostream>
#include <memory>

#include "CliSupport.h"
#include "Commands.h"
#include "common/Error.h"
#include "preprocess/Feathering.h"

namespace biasscope::cli {

void addFeatherCommand(CLI::App& app) {
    struct Args {
        std::string images, annotations, masks, out, background = "white";
        int kernel = 21;
        bool hard = false, keepUnannotated = false;
    };
    auto a = std::make_shared<Args>();
    CLI::App* cmd = app.add_subcommand("feather", "Feather away image context outside annotated faces (published notebook algorithm by default)");
    cmd->add_option("--images", a->images, "folder of images")->required();
    auto* ann = cmd->add_option("--annotations", a->annotations, "COCO polygon annotations (Roboflow export)");
    auto* masks = cmd->add_option("--masks", a->masks, "folder of binary masks <stem>.png (instead of COCO)");
    ann->excludes(masks);
    cmd->add_option("--out", a->out, "output folder (<stem>.png)")->required();
    cmd->add_option("--kernel", a->kernel, "odd Gaussian kernel size (sigma from the kernel as OpenCV)")->check(inRange(1, 501));
    cmd->add_option("--background", a->background, "white (published), black, gray, mean or blur");
    cmd->add_flag("--hard", a->hard, "unblurred mask");
    cmd->add_flag("--keep-unannotated", a->keepUnannotated, "write unannotated images unchanged instead of leaving them out");
    cmd->callback([a]() {
        if (a->annotations.empty() && a->masks.empty()) throw InputError("feather needs --annotations or --masks");
        preprocess::FeatheringOptions o;
        o.kernel = a->kernel;
        o.background = preprocess::parseFeatherBackground(a->background);
        o.hard = a->hard;
        o.keepUnannotated = a->keepUnannotated;
        const auto r = preprocess::featherDirectory(a->images, a->annotations, a->masks, a->out, o);
        for (const auto& s : r.skippedUnannotated)
            std::cerr << "biasscope-cli: warning: " << s << " has no annotation; left out of the masked set (--keep-unannotated keeps it unmasked)\n";
        for (const auto& s : r.keptUnannotated) std::cerr << "biasscope-cli: warning: " << s << " has no annotation; written unmasked\n";
        for (const auto& [f, why] : r.failures) std::cerr << "biasscope-cli: error: " << f << ": " << why << "\n";
        std::cout << "feathered " << r.written.size() << " image(s) into " << a->out << "; " << r.skippedUnannotated.size() << " unannotated, "
                  << r.failures.size() << " failed\n";
        if (!r.failures.empty()) throw Error(std::to_string(r.failures.size()) + " image(s) failed (listed above); the others were written");
    });
}

}  // namespace biasscope::cli
