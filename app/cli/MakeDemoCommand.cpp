#include <filesystem>
#include <iostream>
#include <memory>

#include "Commands.h"
#include "data/SyntheticImage.h"
#include "io/ImageIO.h"
#include "model/RandomVit.h"
#include "study/Demo.h"

namespace biasscope::cli {

void addMakeDemoCommand(CLI::App& app) {
    struct Args {
        std::string out;
        std::uint64_t seed = 1;
    };
    auto args = std::make_shared<Args>();
    CLI::App* cmd = app.add_subcommand("make-demo", "Write a small random ViT (HF directory) and a synthetic image, for a first look without downloads");
    cmd->add_option("--out", args->out, "output folder")->required();
    cmd->add_option("--seed", args->seed, "random seed");
    cmd->callback([args]() {
        namespace fs = std::filesystem;
        model::VitConfig c = study::demoVitConfig();  // the demo's geometry, random weights, four named classes
        c.numLabels = 4;
        c.id2label = {"stripes", "gradient", "object", "eyes"};
        model::RandomVitOptions o;
        o.seed = args->seed;
        o.weightStd = 0.15;
        const auto model = model::makeRandomVitModel(c, o);
        const std::string dir = (fs::path(args->out) / "tiny-vit").string();
        model::saveHuggingFaceDirectory(model, dir);
        const std::string image = (fs::path(args->out) / "synthetic.png").string();
        io::saveRgbImage(image, data::makeSyntheticImage(160, 160, args->seed));
        std::cout << "wrote " << dir << " and " << image << "\n";
    });
}

}  // namespace biasscope::cli
