#include "model/VitWeights.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <future>
#include <fstream>
#include <set>
#include <sstream>

#include <torch/types.h>

#include "io/Safetensors.h"
#include "io/TorchSave.h"
#include "io/HashCache.h"
#include "model/VitLayouts.h"

namespace biasscope::model {

namespace fs = std::filesystem;
using Kind = ModelLoadError::Kind;

namespace {

std::string shapeString(at::IntArrayRef s) {
    std::ostringstream os;
    os << "[";
    for (std::size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
    os << "]";
    return os.str();
}

std::string readPrefix(const std::string& path, std::size_t n) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ModelLoadError(Kind::Unreadable, path + ": cannot open model file");
    std::string s(n, '\0');
    in.read(s.data(), static_cast<std::streamsize>(n));
    s.resize(static_cast<std::size_t>(in.gcount()));
    return s;
}

StateDict readTorchSave(const std::string& path) {
    try {
        return io::readTorchSaveStateDict(path);
    } catch (const io::TorchSaveError& e) {
        throw ModelLoadError(Kind::Unreadable, e.what());
    }
}

const std::string kPrefix = "vit.";

// Looks a key up with or without the "vit." prefix and checks its shape and dtype.
class KeyReader {
public:
    KeyReader(const StateDict& dict, std::string source) : dict_(dict), source_(std::move(source)) {}

    at::Tensor take(const std::string& backboneKey, std::vector<std::int64_t> shape, bool backbone = true) {
        std::string key = backbone ? kPrefix + backboneKey : backboneKey;
        auto it = dict_.find(key);
        if (it == dict_.end() && backbone) {
            it = dict_.find(backboneKey);
            key = backboneKey;
        }
        if (it == dict_.end()) {
            missing_.push_back(backbone ? kPrefix + backboneKey : backboneKey);
            return {};
        }
        used_.insert(key);
        const at::Tensor& t = it->second;
        const auto st = t.scalar_type();
        if (st != torch::kFloat32 && st != torch::kFloat16 && st != torch::kBFloat16 && st != torch::kFloat64)
            throw ModelLoadError(Kind::UnsupportedDType, source_ + ": tensor '" + key + "' has dtype " + std::string(c10::toString(st)) +
                                                             "; F32, F16 and BF16 are accepted");
        if (t.sizes().vec() != shape)
            throw ModelLoadError(Kind::ShapeMismatch, source_ + ": tensor '" + key + "' has shape " + shapeString(t.sizes()) + ", expected " +
                                                          shapeString(shape) + " for this config");
        return t.to(torch::kFloat32).contiguous();
    }

    void finish() {
        if (!missing_.empty()) {
            std::string list;
            for (std::size_t i = 0; i < missing_.size() && i < 5; ++i) list += (i ? ", " : "") + missing_[i];
            if (missing_.size() > 5) list += ", ... (" + std::to_string(missing_.size()) + " in all)";
            throw ModelLoadError(Kind::MissingKey, source_ + ": missing key(s): " + list);
        }
        std::vector<std::string> unexpected;
        for (const auto& [k, v] : dict_) {
            if (used_.count(k)) continue;
            if (k.rfind("pooler.", 0) == 0 || k.rfind("vit.pooler.", 0) == 0) continue;  // HF ViTModel pooler: unused by classification
            unexpected.push_back(k);
        }
        if (!unexpected.empty()) {
            std::string list;
            for (std::size_t i = 0; i < unexpected.size() && i < 5; ++i) list += (i ? ", " : "") + unexpected[i];
            if (unexpected.size() > 5) list += ", ... (" + std::to_string(unexpected.size()) + " in all)";
            throw ModelLoadError(Kind::UnexpectedKey, source_ + ": unexpected key(s) (not a ViT checkpoint, or a different config?): " + list);
        }
    }

private:
    const StateDict& dict_;
    std::string source_;
    std::vector<std::string> missing_;
    std::set<std::string> used_;
};

std::optional<std::string> findConfigBeside(const std::string& weightsPath) {
    fs::path p = fs::path(weightsPath).parent_path() / "config.json";
    if (fs::exists(p)) return p.string();
    return std::nullopt;
}

}  // namespace

int ClassifierHead::labelIndex(const std::string& nameOrIndex) const {
    for (std::size_t i = 0; i < labels.size(); ++i)
        if (labels[i] == nameOrIndex) return static_cast<int>(i);
    try {
        std::size_t pos = 0;
        int idx = std::stoi(nameOrIndex, &pos);
        if (pos == nameOrIndex.size() && idx >= 0 && idx < static_cast<int>(labels.size())) return idx;
    } catch (...) {
    }
    return -1;
}

const ClassifierHead& VitModel::head(const std::string& name) const {
    if (heads.empty()) throw InputError("model has no classifier head");
    if (name.empty()) return heads.front();
    for (const auto& h : heads)
        if (h.name == name) return h;
    std::string names;
    for (const auto& h : heads) names += (names.empty() ? "" : ", ") + h.name;
    throw InputError("no head named '" + name + "' (heads: " + names + ")");
}

namespace {
LinearWeights linTo(const LinearWeights& l, const at::Device& d) { return {l.weight.to(d), l.bias.to(d)}; }
LayerNormWeights lnTo(const LayerNormWeights& l, const at::Device& d) { return {l.weight.to(d), l.bias.to(d)}; }
}  // namespace

VitModel VitModel::to(const at::Device& device) const {
    VitModel m = *this;
    auto& b = m.backbone;
    b.clsToken = b.clsToken.to(device);
    b.positionEmbeddings = b.positionEmbeddings.to(device);
    b.patchProjection = linTo(b.patchProjection, device);
    for (auto& blk : b.blocks) {
        blk.layernormBefore = lnTo(blk.layernormBefore, device);
        blk.layernormAfter = lnTo(blk.layernormAfter, device);
        blk.query = linTo(blk.query, device);
        blk.key = linTo(blk.key, device);
        blk.value = linTo(blk.value, device);
        blk.attentionOutput = linTo(blk.attentionOutput, device);
        blk.intermediate = linTo(blk.intermediate, device);
        blk.output = linTo(blk.output, device);
    }
    b.finalLayernorm = lnTo(b.finalLayernorm, device);
    for (auto& h : m.heads) h.linear = linTo(h.linear, device);
    return m;
}

StateDict readStateDict(const std::string& path) {
    if (!fs::exists(path)) throw ModelLoadError(Kind::Unreadable, path + ": file not found");
    if (fs::is_directory(path)) throw ModelLoadError(Kind::Unreadable, path + ": is a directory, expected a weights file");
    const std::string head = readPrefix(path, 9);
    StateDict dict;
    bool recognised = false;
    if (head.size() >= 4 && head.compare(0, 4, "PK\x03\x04") == 0) {
        dict = readTorchSave(path);
        recognised = true;
    } else if (head.size() == 9 && head[8] == '{') {
        for (auto& [name, tensor] : io::readSafetensors(path).tensors) dict[name] = tensor;
        recognised = true;
    }
    if (recognised) {
        if (dict.empty()) throw ModelLoadError(Kind::MissingKey, path + ": holds no tensors");
        // torch.nn.DataParallel / DistributedDataParallel save every key under "module." (as the CNN loader accepts)
        const bool wrapped = std::all_of(dict.begin(), dict.end(), [](const auto& kv) { return kv.first.rfind("module.", 0) == 0; });
        if (wrapped) {
            StateDict unwrapped;
            for (auto& [k, v] : dict) unwrapped[k.substr(7)] = v;
            return unwrapped;
        }
        return dict;
    }
    if (head.size() >= 2 && static_cast<unsigned char>(head[0]) == 0x80)
        throw ModelLoadError(Kind::Unreadable, path + ": legacy (non-zip) torch.save format; re-save with torch.save(..., _use_new_zipfile_serialization=True)");
    throw ModelLoadError(Kind::Unreadable, path + ": neither a safetensors file nor a torch.save zip archive");
}

VitConfig inferVitConfig(const StateDict& dict, const std::string& source) {
    auto get = [&](const std::string& key) -> at::Tensor {
        auto it = dict.find(kPrefix + key);
        if (it == dict.end()) it = dict.find(key);
        if (it == dict.end()) throw ModelLoadError(Kind::MissingKey, source + ": no config.json and missing key '" + kPrefix + key + "' to infer one");
        return it->second;
    };
    VitConfig c;
    const auto patch = get("embeddings.patch_embeddings.projection.weight");
    if (patch.dim() != 4) throw ModelLoadError(Kind::ShapeMismatch, source + ": patch projection weight must be 4-D");
    c.hiddenSize = patch.size(0);
    c.numChannels = patch.size(1);
    c.patchSize = patch.size(2);
    const auto pos = get("embeddings.position_embeddings");
    if (pos.dim() != 3 || pos.size(0) != 1 || pos.size(1) < 2)
        throw ModelLoadError(Kind::ShapeMismatch, source + ": position embeddings have shape " + c10::str(pos.sizes()) + ", expected [1, 1 + patches, hidden]");
    const auto grid = static_cast<std::int64_t>(std::llround(std::sqrt(static_cast<double>(pos.size(1) - 1))));
    if (grid * grid != pos.size(1) - 1)
        throw ModelLoadError(Kind::ShapeMismatch, source + ": " + std::to_string(pos.size(1) - 1) +
                                                      " patch positions are not a square grid (give the config.json of this model)");
    c.imageSize = grid * c.patchSize;
    std::int64_t layers = 0;
    while (dict.count(kPrefix + "encoder.layer." + std::to_string(layers) + ".layernorm_before.weight") ||
           dict.count("encoder.layer." + std::to_string(layers) + ".layernorm_before.weight"))
        ++layers;
    c.numLayers = layers;
    c.intermediateSize = get("encoder.layer.0.intermediate.dense.weight").size(0);
    c.numHeads = std::max<std::int64_t>(1, c.hiddenSize / 64);  // HF ViT uses 64-dimensional heads throughout
    auto cls = dict.find("classifier.weight");
    c.numLabels = cls == dict.end() ? 0 : cls->second.size(0);
    c.id2label.clear();
    for (std::int64_t i = 0; i < c.numLabels; ++i) c.id2label.push_back("LABEL_" + std::to_string(i));
    c.validate(source);
    return c;
}

VitModel vitModelFromStateDict(const StateDict& dict, const VitConfig& config, const std::string& source, const std::string& headName) {
    config.validate(source);
    const std::int64_t D = config.hiddenSize, I = config.intermediateSize, P = config.patchSize;
    KeyReader r(dict, source);
    VitModel m;
    VitBackbone& b = m.backbone;
    b.config = config;
    b.clsToken = r.take("embeddings.cls_token", {1, 1, D});
    b.positionEmbeddings = r.take("embeddings.position_embeddings", {1, config.numTokens(), D});
    b.patchProjection = {r.take("embeddings.patch_embeddings.projection.weight", {D, config.numChannels, P, P}),
                         r.take("embeddings.patch_embeddings.projection.bias", {D})};
    for (std::int64_t l = 0; l < config.numLayers; ++l) {
        const std::string p = "encoder.layer." + std::to_string(l) + ".";
        VitBlockWeights blk;
        blk.layernormBefore = {r.take(p + "layernorm_before.weight", {D}), r.take(p + "layernorm_before.bias", {D})};
        blk.query = {r.take(p + "attention.attention.query.weight", {D, D}), r.take(p + "attention.attention.query.bias", {D})};
        blk.key = {r.take(p + "attention.attention.key.weight", {D, D}), r.take(p + "attention.attention.key.bias", {D})};
        blk.value = {r.take(p + "attention.attention.value.weight", {D, D}), r.take(p + "attention.attention.value.bias", {D})};
        blk.attentionOutput = {r.take(p + "attention.output.dense.weight", {D, D}), r.take(p + "attention.output.dense.bias", {D})};
        blk.layernormAfter = {r.take(p + "layernorm_after.weight", {D}), r.take(p + "layernorm_after.bias", {D})};
        blk.intermediate = {r.take(p + "intermediate.dense.weight", {I, D}), r.take(p + "intermediate.dense.bias", {I})};
        blk.output = {r.take(p + "output.dense.weight", {D, I}), r.take(p + "output.dense.bias", {D})};
        b.blocks.push_back(std::move(blk));
    }
    b.finalLayernorm = {r.take("layernorm.weight", {D}), r.take("layernorm.bias", {D})};
    ClassifierHead head;
    head.name = headName.empty() ? "classifier" : headName;
    head.linear = {r.take("classifier.weight", {config.numLabels, D}, false), r.take("classifier.bias", {config.numLabels}, false)};
    head.labels = config.id2label;
    head.sourcePath = source;
    r.finish();
    m.heads.push_back(std::move(head));
    return m;
}

VitModel loadVitModel(const std::string& path, const std::optional<std::string>& configPath, const std::string& headName) {
    std::string weights = path;
    std::optional<std::string> config = configPath;
    if (fs::is_directory(path)) {
        const fs::path dir(path);
        if (fs::exists(dir / "model.safetensors"))
            weights = (dir / "model.safetensors").string();
        else if (fs::exists(dir / "pytorch_model.bin"))
            weights = (dir / "pytorch_model.bin").string();
        else
            throw ModelLoadError(Kind::Unreadable, path + ": model directory has neither model.safetensors nor pytorch_model.bin");
        if (!config) {
            if (!fs::exists(dir / "config.json")) throw ModelLoadError(Kind::Config, path + ": model directory has no config.json");
            config = (dir / "config.json").string();
        }
    }
    if (!config) config = findConfigBeside(weights);
    // the provenance hash runs beside the loading (and is remembered across runs: io/HashCache)
    std::future<std::string> sha = std::async(std::launch::async, [weights] { return io::cachedSha256FileHex(weights); });
    StateDict dict = readStateDict(weights);
    const auto layout = detectVitLayout(dict);
    if (!layout) throw ModelLoadError(Kind::MissingKey, describeUnknownLayout(dict, weights));
    dict = toHuggingFaceLayout(dict, *layout, weights);
    VitModel m;
    if (config) {
        VitConfig c;
        try {
            c = VitConfig::fromJsonFile(*config);
        } catch (const InputError& e) {
            throw ModelLoadError(Kind::Config, e.what());
        }
        // A config for the ImageNet checkpoint may sit beside a differently-headed .pth: trust the tensors for num_labels.
        auto cls = dict.find("classifier.weight");
        if (cls != dict.end() && cls->second.dim() == 2 && cls->second.size(0) != c.numLabels) {
            c.numLabels = cls->second.size(0);
            c.id2label.clear();
            for (std::int64_t i = 0; i < c.numLabels; ++i) c.id2label.push_back("LABEL_" + std::to_string(i));
        }
        m = vitModelFromStateDict(dict, c, weights, headName);
    } else {
        VitConfig c = inferVitConfig(dict, weights);
        applyLayoutDefaults(c, *layout);
        m = vitModelFromStateDict(dict, c, weights, headName);
        m.configInferred = true;
    }
    m.sourceLayout = layoutName(*layout);
    m.heads.front().sourceSha256 = sha.get();
    return m;
}

void addHeadFrom(VitModel& model, const std::string& path, const std::optional<std::string>& configPath, const std::string& headName) {
    VitModel other = loadVitModel(path, configPath, headName);
    for (const auto& h : model.heads)
        if (h.name == other.heads.front().name) throw InputError("a head named '" + h.name + "' is already loaded");
    const auto a = toHuggingFaceStateDict(model, 0), b = toHuggingFaceStateDict(other, 0);
    bool same = a.size() == b.size();
    for (std::size_t i = 0; same && i < a.size(); ++i) {
        if (a[i].first.rfind("classifier.", 0) == 0) continue;
        same = a[i].first == b[i].first && torch::equal(a[i].second, b[i].second);
    }
    if (!same)
        throw ModelLoadError(Kind::BackboneMismatch, path + ": backbone weights differ from the loaded model's; its head '" + other.heads.front().name +
                                                          "' cannot share the forward pass (load it as a separate model)");
    model.heads.push_back(other.heads.front());
}

std::vector<std::pair<std::string, at::Tensor>> toHuggingFaceStateDict(const VitModel& model, int headIndex) {
    std::vector<std::pair<std::string, at::Tensor>> out;
    auto add = [&](const std::string& k, const at::Tensor& t) { out.emplace_back(k, t.to(torch::kCPU).to(torch::kFloat32).contiguous()); };
    const auto& b = model.backbone;
    add("vit.embeddings.cls_token", b.clsToken);
    add("vit.embeddings.position_embeddings", b.positionEmbeddings);
    add("vit.embeddings.patch_embeddings.projection.weight", b.patchProjection.weight);
    add("vit.embeddings.patch_embeddings.projection.bias", b.patchProjection.bias);
    for (std::size_t l = 0; l < b.blocks.size(); ++l) {
        const auto& blk = b.blocks[l];
        const std::string p = "vit.encoder.layer." + std::to_string(l) + ".";
        add(p + "layernorm_before.weight", blk.layernormBefore.weight);
        add(p + "layernorm_before.bias", blk.layernormBefore.bias);
        add(p + "attention.attention.query.weight", blk.query.weight);
        add(p + "attention.attention.query.bias", blk.query.bias);
        add(p + "attention.attention.key.weight", blk.key.weight);
        add(p + "attention.attention.key.bias", blk.key.bias);
        add(p + "attention.attention.value.weight", blk.value.weight);
        add(p + "attention.attention.value.bias", blk.value.bias);
        add(p + "attention.output.dense.weight", blk.attentionOutput.weight);
        add(p + "attention.output.dense.bias", blk.attentionOutput.bias);
        add(p + "layernorm_after.weight", blk.layernormAfter.weight);
        add(p + "layernorm_after.bias", blk.layernormAfter.bias);
        add(p + "intermediate.dense.weight", blk.intermediate.weight);
        add(p + "intermediate.dense.bias", blk.intermediate.bias);
        add(p + "output.dense.weight", blk.output.weight);
        add(p + "output.dense.bias", blk.output.bias);
    }
    add("vit.layernorm.weight", b.finalLayernorm.weight);
    add("vit.layernorm.bias", b.finalLayernorm.bias);
    const auto& h = model.heads.at(static_cast<std::size_t>(headIndex));
    add("classifier.weight", h.linear.weight);
    add("classifier.bias", h.linear.bias);
    return out;
}

}  // namespace biasscope::model

#include "io/AtomicFile.h"

namespace biasscope::model {

void saveHuggingFaceDirectory(const VitModel& model, const std::string& dir, int headIndex) {
    fs::create_directories(dir);
    VitConfig c = model.backbone.config;
    const auto& head = model.heads.at(static_cast<std::size_t>(headIndex));
    c.numLabels = head.linear.weight.size(0);
    c.id2label = head.labels;
    io::writeSafetensors((fs::path(dir) / "model.safetensors").string(), toHuggingFaceStateDict(model, headIndex), {{"format", "pt"}});
    io::writeFileAtomically((fs::path(dir) / "config.json").string(), c.toJsonText());
}

}  // namespace biasscope::model
