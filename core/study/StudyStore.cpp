#include "study/StudyStore.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <torch/types.h>

#include "common/Error.h"
#include "io/Safetensors.h"

namespace biasscope::study {

namespace fs = std::filesystem;

namespace {
at::Tensor normaliseLayers(const at::Tensor& v) {
    const at::Tensor m = v.abs().amax(-1, true);
    return v / torch::where(m > 0, m, torch::ones_like(m));
}
}  // namespace

StudyStore::StudyStore(const std::string& storeDir, const JobControl& job) : dir_(storeDir) {
    const fs::path studyFile = fs::path(storeDir) / "study.json";
    if (!fs::exists(studyFile)) throw InputError(storeDir + ": not a study store (no study.json; `study run` writes one)");
    study_ = readStudyDefinition(studyFile.string());
    if (!study_.importedFrom.empty())
        throw InputError(storeDir + ": an imported top-k store (published outputs) has no per-neuron vectors to explore; open a `study run` store");
    std::size_t total = 0, done = 0;
    std::vector<std::vector<fs::path>> files;
    for (const auto& set : study_.sets) {
        const fs::path d = fs::path(storeDir) / "relevance" / set.name;
        std::vector<fs::path> f;
        if (fs::is_directory(d))
            for (const auto& e : fs::directory_iterator(d))
                if (e.path().extension() == ".safetensors") f.push_back(e.path());
        std::sort(f.begin(), f.end());
        total += f.size();
        files.push_back(std::move(f));
    }
    if (total == 0) throw InputError(storeDir + "/relevance: no stored records (run `study run` first)");
    for (std::size_t s = 0; s < study_.sets.size(); ++s)
        for (const auto& f : files[s]) {
            job.checkCancelled();
            ++done;
            StoreImage im;
            try {
                const auto rec = io::readSafetensorsSelected(f.string(), {"confidence"});
                im.set = study_.sets[s].name;
                im.condition = study_.sets[s].condition;
                im.stem = f.stem().string();
                im.record = f.string();
                auto it = rec.metadata.find("image_file");
                im.imageFile = it != rec.metadata.end() ? it->second : "";
                im.confidence = rec.tensors.front().second.to(torch::kFloat64).item<double>();
                if (!std::isfinite(im.confidence)) throw InputError(f.string() + ": confidence is NaN");
            } catch (const std::exception& e) {  // a corrupt record: left out and named, the rest opens
                const std::string why = e.what();
                skipped_.push_back(why.rfind(f.string(), 0) == 0 ? why : f.string() + ": " + why);
                continue;
            }
            images_.push_back(std::move(im));
            job.report(static_cast<double>(done) / static_cast<double>(total), "reading the store: " + std::to_string(done) + " / " + std::to_string(total));
        }
    if (images_.empty()) throw InputError(skipped_.front() + (skipped_.size() > 1 ? " (and every other record: " + std::to_string(skipped_.size()) + " unreadable)" : ""));
}

std::vector<std::string> StudyStore::targetNames() const {
    std::vector<std::string> t;
    for (const auto& x : study_.targets) t.push_back(x.name);
    return t;
}

std::vector<std::string> StudyStore::siteNames() const {
    std::vector<std::string> s;
    for (auto site : study_.relevance.sites) s.push_back(explain::toString(site));
    return s;
}

std::vector<std::string> StudyStore::setNames() const {
    std::vector<std::string> s;
    for (const auto& x : study_.sets) s.push_back(x.name);
    return s;
}

at::Tensor StudyStore::tensor(std::size_t image, const std::string& key) const {
    if (image >= images_.size()) throw InputError("image " + std::to_string(image) + " is not in the store (" + std::to_string(images_.size()) + " images)");
    try {
        return io::readSafetensorsSelected(images_[image].record, {key}).tensors.front().second.to(torch::kFloat32);
    } catch (const io::SafetensorsError& e) {
        throw InputError(std::string(e.what()) + " (stored with another study definition?)");
    }
}

Conservation conservationOf(const std::vector<double>& a) {
    if (a.size() != 5) throw InputError("an accounting has " + std::to_string(a.size()) + " values, expected 5 (logit, pixels, CLS, position, biases)");
    Conservation c{a[0], a[1], a[2], a[3], a[4], 0, 0};
    c.gap = c.logit - (c.pixels + c.cls + c.position + c.biases);
    c.relativeGap = std::fabs(c.gap) / std::max(std::fabs(c.logit), 1e-12);
    return c;
}

std::optional<Conservation> StudyStore::conservation(std::size_t image, const std::string& target) const {
    if (image >= images_.size()) return std::nullopt;
    if (!io::readSafetensorsHeader(images_[image].record).find(target + "/accounting")) return std::nullopt;
    const at::Tensor t = io::readSafetensorsSelected(images_[image].record, {target + "/accounting"}).tensors.front().second.to(torch::kFloat64).contiguous();
    return conservationOf(std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel()));
}

at::Tensor StudyStore::normalisedNeurons(std::size_t image, const std::string& target, const std::string& site) const {
    return normaliseLayers(tensor(image, target + "/" + site));
}

const at::Tensor& StudyStore::block(const std::string& target, const std::string& site) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const std::string key = target + "/" + site;
    auto it = blocks_.find(key);
    if (it != blocks_.end()) return it->second;
    std::vector<at::Tensor> rows;
    rows.reserve(images_.size());
    for (std::size_t i = 0; i < images_.size(); ++i) {
        at::Tensor v = io::readSafetensorsSelected(images_[i].record, {key}).tensors.front().second.to(torch::kFloat32);
        if (!rows.empty() && v.sizes() != rows.front().sizes())
            throw InputError(images_[i].record + ": '" + key + "' has shape " + c10::str(v.sizes()) + ", other records " + c10::str(rows.front().sizes()));
        rows.push_back(normaliseLayers(v));
    }
    return blocks_.emplace(key, torch::stack(rows)).first->second;
}

NeuronProfile StudyStore::neuron(const std::string& target, const std::string& site, int layer, int feature) const {
    const at::Tensor& b = block(target, site);
    if (layer < 0 || layer >= b.size(1) || feature < 0 || feature >= b.size(2))
        throw InputError("neuron (" + std::to_string(layer) + ", " + std::to_string(feature) + ") is outside [" + std::to_string(b.size(1)) + " layers, " +
                         std::to_string(b.size(2)) + " features]");
    const at::Tensor layerValues = b.select(1, layer);  // [N, F]
    const at::Tensor v = layerValues.select(1, feature).contiguous();
    const at::Tensor above = layerValues.abs().gt(v.abs().unsqueeze(1)).sum(1).contiguous();  // neurons strictly larger in |value|
    NeuronProfile p;
    p.value.assign(v.data_ptr<float>(), v.data_ptr<float>() + v.numel());
    const auto* a = above.data_ptr<std::int64_t>();
    for (std::int64_t i = 0; i < above.numel(); ++i) p.rank.push_back(static_cast<int>(a[i]) + 1);
    return p;
}

std::vector<std::size_t> StudyStore::imagesWithNeuronInTopK(const std::string& target, const std::string& site, int layer, int feature, int k) const {
    const NeuronProfile p = neuron(target, site, layer, feature);
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < p.rank.size(); ++i)
        if (p.rank[i] <= k) out.push_back(i);
    return out;
}

}  // namespace biasscope::study
