#include "model/CnnModel.h"

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "io/Safetensors.h"

namespace biasscope::model {

namespace {

using Kind = ModelLoadError::Kind;

// efficientnet_v2_s (torchvision _efficientnet_conf): per stage fused?, expand ratio, stride, out, blocks
struct EffStage {
    bool fused;
    int expand, stride;
    std::int64_t out;
    int blocks;
};
const std::vector<EffStage> kV2S{{true, 1, 1, 24, 2},   {true, 4, 2, 48, 4},  {true, 4, 2, 64, 4},
                                 {false, 4, 2, 128, 6}, {false, 6, 1, 160, 9}, {false, 6, 2, 256, 15}};
constexpr double kResNetEps = 1e-5, kEffEps = 1e-3, kStochasticDepth = 0.2;

bool has(const StateDict& d, const std::string& k) { return d.count(k) > 0; }

std::string shapeString(at::IntArrayRef s) {
    std::string out = "[";
    for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
}

std::string listString(const std::vector<int>& v) {
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
    return s + "]";
}

// Checks shapes while the structure is read; remembers which keys were used.
class Checker {
public:
    Checker(const StateDict& d, std::string source) : d_(d), source_(std::move(source)) {}
    const at::Tensor& get(const std::string& key) {
        auto it = d_.find(key);
        if (it == d_.end()) throw ModelLoadError(Kind::MissingKey, source_ + ": missing key '" + key + "'");
        used_.insert(key);
        return it->second;
    }
    void expect(const std::string& key, std::vector<std::int64_t> shape) {
        const at::Tensor& t = get(key);
        if (t.sizes().vec() != shape)
            throw ModelLoadError(Kind::ShapeMismatch, source_ + ": tensor '" + key + "' has shape " + shapeString(t.sizes()) + ", expected " + shapeString(shape));
    }
    // conv + BN pair: conv weight [out, in/groups, k, k]; returns out channels
    std::int64_t convBn(const std::string& conv, const std::string& bn, std::int64_t in, std::int64_t groups = 1) {
        const at::Tensor& w = get(conv + ".weight");
        if (w.dim() != 4 || w.size(1) * groups != in)
            throw ModelLoadError(Kind::ShapeMismatch, source_ + ": tensor '" + conv + ".weight' has shape " + shapeString(w.sizes()) + ", expected a convolution with " +
                                                          std::to_string(in / groups) + " input channels per group");
        bnKeys(bn, w.size(0));
        return w.size(0);
    }
    void bnKeys(const std::string& bn, std::int64_t c) {
        for (const char* s : {".weight", ".bias", ".running_mean", ".running_var"}) expect(bn + s, {c});
        if (has(d_, bn + ".num_batches_tracked")) used_.insert(bn + ".num_batches_tracked");
    }
    std::int64_t linear(const std::string& name, std::int64_t in) {
        const at::Tensor& w = get(name + ".weight");
        if (w.dim() != 2 || w.size(1) != in)
            throw ModelLoadError(Kind::ShapeMismatch, source_ + ": tensor '" + name + ".weight' has shape " + shapeString(w.sizes()) + ", expected [classes, " +
                                                          std::to_string(in) + "]");
        expect(name + ".bias", {w.size(0)});
        return w.size(0);
    }
    void finish() const {
        std::vector<std::string> extra;
        for (const auto& [k, v] : d_)
            if (!used_.count(k)) extra.push_back(k);
        if (extra.empty()) return;
        std::string list;
        for (std::size_t i = 0; i < extra.size() && i < 5; ++i) list += (i ? ", " : "") + extra[i];
        if (extra.size() > 5) list += ", ... (" + std::to_string(extra.size()) + " in all)";
        throw ModelLoadError(Kind::UnexpectedKey, source_ + ": unexpected key(s) for " + arch + ": " + list);
    }
    std::string arch;

private:
    const StateDict& d_;
    std::string source_;
    std::set<std::string> used_;
};

void readResNet(CnnModel& m, const StateDict& d, Checker& c) {
    const std::string p = m.extendedHead ? "resnet." : "";
    m.bottleneck = has(d, p + "layer1.0.conv3.weight");
    std::int64_t ch = c.convBn(p + "conv1", p + "bn1", 3);
    const std::int64_t stem = ch;
    for (int s = 1; s <= 4; ++s) {
        int blocks = 0;
        while (has(d, p + "layer" + std::to_string(s) + "." + std::to_string(blocks) + ".conv1.weight")) ++blocks;
        if (blocks == 0) throw ModelLoadError(Kind::MissingKey, m.source + ": missing key '" + p + "layer" + std::to_string(s) + ".0.conv1.weight' (not a ResNet?)");
        m.stageBlocks.push_back(blocks);
        for (int b = 0; b < blocks; ++b) {
            const std::string q = p + "layer" + std::to_string(s) + "." + std::to_string(b) + ".";
            const std::int64_t in = ch;
            ch = c.convBn(q + "conv1", q + "bn1", ch);
            ch = c.convBn(q + "conv2", q + "bn2", ch);
            if (m.bottleneck) ch = c.convBn(q + "conv3", q + "bn3", ch);
            if (has(d, q + "downsample.0.weight")) {
                if (c.convBn(q + "downsample.0", q + "downsample.1", in) != ch)
                    throw ModelLoadError(Kind::ShapeMismatch, m.source + ": '" + q + "downsample.0.weight' does not match the block's output channels");
            } else if (in != ch || (b == 0 && s > 1)) {
                throw ModelLoadError(Kind::MissingKey, m.source + ": missing key '" + q + "downsample.0.weight' (the block changes shape)");
            }
        }
    }
    m.featureChannels = ch;
    std::int64_t f = c.linear(p + "fc", ch);
    if (m.extendedHead) f = c.linear("fc", f);
    m.numClasses = f;
    const bool r18 = !m.bottleneck && m.stageBlocks == std::vector<int>{2, 2, 2, 2} && stem == 64;
    const bool r50 = m.bottleneck && m.stageBlocks == std::vector<int>{3, 4, 6, 3} && stem == 64;
    if (r50 && m.extendedHead)
        m.arch = "resnet50_extended";
    else if (r18 && !m.extendedHead)
        m.arch = "resnet18";
    else if (r50)
        m.arch = "resnet50";
    else
        m.arch = std::string("resnet(") + (m.bottleneck ? "Bottleneck " : "BasicBlock ") + listString(m.stageBlocks) + ", stem " + std::to_string(stem) +
                 (m.extendedHead ? ", extended head" : "") + ")";
}

// The conv+BN sub-modules and the SE of one EfficientNet block, in order.
struct EffPart {
    std::string prefix;  // "features.i.j.block.k"
    bool se = false;
};

std::vector<EffPart> effParts(const StateDict& d, const std::string& block) {
    std::vector<EffPart> parts;
    for (int k = 0;; ++k) {
        const std::string q = block + "block." + std::to_string(k);
        if (has(d, q + ".fc1.weight"))
            parts.push_back({q, true});
        else if (has(d, q + ".0.weight"))
            parts.push_back({q, false});
        else
            break;
    }
    return parts;
}

void readEfficientNet(CnnModel& m, const StateDict& d, Checker& c) {
    std::int64_t ch = c.convBn("features.0.0", "features.0.1", 3);
    int last = 1;
    while (has(d, "features." + std::to_string(last) + ".0.block.0.0.weight")) ++last;
    if (last - 1 != static_cast<int>(kV2S.size()))
        throw ModelLoadError(Kind::ShapeMismatch, m.source + ": EfficientNetV2 with " + std::to_string(last - 1) + " stages; the efficientnet_v2_s layout has " +
                                                      std::to_string(kV2S.size()));
    for (int s = 1; s < last; ++s) {
        int blocks = 0;
        while (has(d, "features." + std::to_string(s) + "." + std::to_string(blocks) + ".block.0.0.weight")) ++blocks;
        m.stageBlocks.push_back(blocks);
        for (int b = 0; b < blocks; ++b) {
            const std::string q = "features." + std::to_string(s) + "." + std::to_string(b) + ".";
            for (const auto& part : effParts(d, q)) {
                if (part.se) {
                    const std::int64_t sq = c.get(part.prefix + ".fc1.weight").size(0);
                    c.expect(part.prefix + ".fc1.weight", {sq, ch, 1, 1});
                    c.expect(part.prefix + ".fc1.bias", {sq});
                    c.expect(part.prefix + ".fc2.weight", {ch, sq, 1, 1});
                    c.expect(part.prefix + ".fc2.bias", {ch});
                    continue;
                }
                const at::Tensor& w = c.get(part.prefix + ".0.weight");
                const std::int64_t groups = (w.dim() == 4 && w.size(1) == 1 && ch > 1) ? ch : 1;
                ch = c.convBn(part.prefix + ".0", part.prefix + ".1", ch, groups);
            }
        }
    }
    const std::string head = "features." + std::to_string(last);
    ch = c.convBn(head + ".0", head + ".1", ch);
    m.featureChannels = ch;
    m.numClasses = c.linear(has(d, "classifier.1.weight") ? "classifier.1" : "classifier", ch);
    std::vector<int> v2s;
    for (const auto& st : kV2S) v2s.push_back(st.blocks);
    m.arch = (m.stageBlocks == v2s && d.at("features.0.0.weight").size(0) == 24) ? "efficientnet_v2_s" : "efficientnet_v2(" + listString(m.stageBlocks) + ")";
}

// ---- forward ----

const at::Tensor& W(const CnnModel& m, const std::string& key) { return m.weights.at(key); }

at::Tensor bn(const CnnModel& m, const at::Tensor& x, const std::string& name, double eps, bool train) {
    if (train && m.weights.count(name + ".num_batches_tracked")) {
        at::NoGradGuard g;
        m.weights.at(name + ".num_batches_tracked").add_(1);
    }
    return torch::batch_norm(x, W(m, name + ".weight"), W(m, name + ".bias"), W(m, name + ".running_mean"), W(m, name + ".running_var"), train, 0.1, eps, true);
}

at::Tensor conv(const CnnModel& m, const at::Tensor& x, const std::string& name, std::int64_t stride, std::int64_t groups = 1) {
    const at::Tensor w = W(m, name + ".weight");  // a handle (no copy of the data); a reference trips GCC 14's -Wdangling-reference
    const std::int64_t pad = (w.size(2) - 1) / 2;
    return torch::conv2d(x, w, {}, stride, pad, 1, groups);
}

at::Tensor resnetFeatures(const CnnModel& m, const at::Tensor& pixels, bool train) {
    const std::string p = m.extendedHead ? "resnet." : "";
    at::Tensor x = torch::relu(bn(m, conv(m, pixels, p + "conv1", 2), p + "bn1", kResNetEps, train));
    x = torch::max_pool2d(x, 3, 2, 1);
    for (int s = 1; s <= 4; ++s)
        for (int b = 0; b < m.stageBlocks[s - 1]; ++b) {
            const std::string q = p + "layer" + std::to_string(s) + "." + std::to_string(b) + ".";
            const std::int64_t stride = (b == 0 && s > 1) ? 2 : 1;
            at::Tensor out;
            if (m.bottleneck) {
                out = torch::relu(bn(m, conv(m, x, q + "conv1", 1), q + "bn1", kResNetEps, train));
                out = torch::relu(bn(m, conv(m, out, q + "conv2", stride), q + "bn2", kResNetEps, train));
                out = bn(m, conv(m, out, q + "conv3", 1), q + "bn3", kResNetEps, train);
            } else {
                out = torch::relu(bn(m, conv(m, x, q + "conv1", stride), q + "bn1", kResNetEps, train));
                out = bn(m, conv(m, out, q + "conv2", 1), q + "bn2", kResNetEps, train);
            }
            const at::Tensor id =
                m.weights.count(q + "downsample.0.weight") ? bn(m, conv(m, x, q + "downsample.0", stride), q + "downsample.1", kResNetEps, train) : x;
            x = torch::relu(out + id);
        }
    return x;
}

at::Tensor effFeatures(const CnnModel& m, const at::Tensor& pixels, bool train) {
    at::Tensor x = torch::silu(bn(m, conv(m, pixels, "features.0.0", 2), "features.0.1", kEffEps, train));
    int total = 0, index = 0;
    for (int b : m.stageBlocks) total += b;
    for (std::size_t s = 1; s <= m.stageBlocks.size(); ++s)
        for (int b = 0; b < m.stageBlocks[s - 1]; ++b, ++index) {
            const std::string q = "features." + std::to_string(s) + "." + std::to_string(b) + ".";
            const std::int64_t stride = b == 0 ? kV2S[s - 1].stride : 1;
            const auto parts = effParts(m.weights, q);
            int convs = 0;
            for (const auto& part : parts) convs += !part.se;
            at::Tensor y = x;
            int seen = 0;
            for (const auto& part : parts) {
                if (part.se) {
                    at::Tensor sc = torch::adaptive_avg_pool2d(y, {1, 1});
                    sc = torch::silu(torch::conv2d(sc, W(m, part.prefix + ".fc1.weight"), W(m, part.prefix + ".fc1.bias")));
                    sc = torch::sigmoid(torch::conv2d(sc, W(m, part.prefix + ".fc2.weight"), W(m, part.prefix + ".fc2.bias")));
                    y = y * sc;
                    continue;
                }
                const at::Tensor w = W(m, part.prefix + ".0.weight");
                const std::int64_t groups = (w.size(1) == 1 && y.size(1) > 1) ? y.size(1) : 1;
                y = bn(m, conv(m, y, part.prefix + ".0", w.size(2) > 1 ? stride : 1, groups), part.prefix + ".1", kEffEps, train);
                ++seen;
                if (!(seen == convs && convs > 1)) y = torch::silu(y);
            }
            if (stride == 1 && y.sizes() == x.sizes()) {
                if (train) {  // stochastic depth, "row" mode, probability growing linearly over the blocks
                    const double survive = 1.0 - kStochasticDepth * index / total;
                    const at::Tensor keep = torch::empty({y.size(0), 1, 1, 1}, y.options()).bernoulli_(survive);
                    y = y * keep / survive;
                }
                y = y + x;
            }
            x = y;
        }
    const std::string head = "features." + std::to_string(m.stageBlocks.size() + 1);
    return torch::silu(bn(m, conv(m, x, head + ".0", 1), head + ".1", kEffEps, train));
}

// ---- random init ----

struct Init {
    explicit Init(std::uint64_t seed) : gen(at::detail::createCPUGenerator(seed)) {}
    at::Generator gen;
    StateDict d;
    void conv(const std::string& name, std::int64_t out, std::int64_t inPerGroup, std::int64_t k, bool bias = false) {
        const double stdv = std::sqrt(2.0 / static_cast<double>(out * k * k));  // kaiming_normal_, fan_out, relu
        d[name + ".weight"] = (at::normal(0.0, 1.0, {out, inPerGroup, k, k}, gen) * stdv).to(torch::kFloat32);
        if (bias) d[name + ".bias"] = torch::zeros({out});
    }
    void bn(const std::string& name, std::int64_t c) {
        d[name + ".weight"] = torch::ones({c});
        d[name + ".bias"] = torch::zeros({c});
        d[name + ".running_mean"] = torch::zeros({c});
        d[name + ".running_var"] = torch::ones({c});
        d[name + ".num_batches_tracked"] = torch::zeros({}, torch::kInt64);
    }
    void linear(const std::string& name, std::int64_t out, std::int64_t in) {
        const double b = 1.0 / std::sqrt(static_cast<double>(in));
        d[name + ".weight"] = (at::rand({out, in}, gen) * 2 * b - b).to(torch::kFloat32);
        d[name + ".bias"] = (at::rand({out}, gen) * 2 * b - b).to(torch::kFloat32);
    }
};

}  // namespace

std::vector<at::Tensor> CnnModel::parameters() const {
    std::vector<at::Tensor> out;
    for (const auto& [k, t] : weights) {
        const bool stat = k.size() > 13 && (k.find(".running_mean") != std::string::npos || k.find(".running_var") != std::string::npos ||
                                            k.find(".num_batches_tracked") != std::string::npos);
        if (!stat) out.push_back(t);
    }
    return out;
}

CnnModel CnnModel::to(const at::Device& device) const {
    CnnModel m = *this;
    for (auto& [k, t] : m.weights) t = t.to(device).clone();
    return m;
}

std::string CnnModel::describe() const {
    std::ostringstream s;
    s << arch << ": " << (family == CnnFamily::ResNet ? (bottleneck ? "Bottleneck " : "BasicBlock ") : "stages ") << listString(stageBlocks) << ", "
      << featureChannels << " feature channels, " << numClasses << " classes";
    return s.str();
}

CnnModel cnnFromStateDict(const StateDict& input, const std::string& source) {
    StateDict d;
    for (const auto& [k, t] : input) {
        const std::string key = k.rfind("module.", 0) == 0 ? k.substr(7) : k;
        if (key.find("num_batches_tracked") != std::string::npos) {
            d[key] = t.to(torch::kInt64).clone();
            continue;
        }
        const auto st = t.scalar_type();
        if (st != torch::kFloat32 && st != torch::kFloat16 && st != torch::kBFloat16 && st != torch::kFloat64)
            throw ModelLoadError(Kind::UnsupportedDType, source + ": tensor '" + k + "' has dtype " + std::string(c10::toString(st)) + "; floating point expected");
        d[key] = t.to(torch::kFloat32).contiguous().clone();
    }
    CnnModel m;
    m.source = source;
    Checker c(d, source);
    if (has(d, "features.0.0.weight")) {
        m.family = CnnFamily::EfficientNetV2;
        readEfficientNet(m, d, c);
    } else if (has(d, "conv1.weight") || has(d, "resnet.conv1.weight")) {
        m.family = CnnFamily::ResNet;
        m.extendedHead = has(d, "resnet.conv1.weight");
        readResNet(m, d, c);
    } else {
        throw ModelLoadError(Kind::MissingKey, source + ": neither a ResNet (conv1.weight, resnet.conv1.weight) nor an EfficientNetV2 (features.0.0.weight) state dict");
    }
    c.arch = m.arch;
    c.finish();
    m.weights = std::move(d);
    for (std::int64_t i = 0; i < m.numClasses; ++i) m.labels.push_back("class_" + std::to_string(i));
    return m;
}

CnnModel loadCnnModel(const std::string& path) {
    CnnModel m = cnnFromStateDict(readStateDict(path), path);
    std::ifstream probe(path, std::ios::binary);
    char head[9] = {};
    probe.read(head, 9);
    if (probe && head[8] == '{') {
        const auto header = io::readSafetensorsHeader(path);
        auto it = header.metadata.find("labels");
        if (it != header.metadata.end()) {
            std::vector<std::string> labels;
            try {
                labels = nlohmann::json::parse(it->second).get<std::vector<std::string>>();
            } catch (const std::exception& e) {
                throw ModelLoadError(Kind::Config, path + ": metadata 'labels' is not a JSON list of strings: " + e.what());
            }
            if (static_cast<std::int64_t>(labels.size()) != m.numClasses)
                throw ModelLoadError(Kind::Config, path + ": metadata lists " + std::to_string(labels.size()) + " labels for " + std::to_string(m.numClasses) + " classes");
            m.labels = labels;
        }
    }
    return m;
}

void saveCnnModel(const CnnModel& m, const std::string& path) {
    std::vector<std::pair<std::string, at::Tensor>> t;
    for (const auto& [k, v] : m.weights) t.emplace_back(k, v.detach().to(torch::kCPU));
    io::writeSafetensors(path, t, {{"format", "pt"}, {"arch", m.arch}, {"labels", nlohmann::json(m.labels).dump()}});
}

CnnModel makeRandomCnn(const CnnSpec& s) {
    Init in(s.seed);
    std::string arch = s.arch;
    if (arch == "resnet18" || arch == "resnet50" || arch == "resnet50_extended" || arch == "resnet") {
        const bool ext = arch == "resnet50_extended";
        bool bottleneck = s.bottleneck;
        std::vector<int> blocks = s.stageBlocks;
        std::vector<std::int64_t> widths = s.stageWidths;
        if (arch == "resnet18") bottleneck = false, blocks = {2, 2, 2, 2}, widths = {64, 128, 256, 512};
        if (arch == "resnet50" || ext) bottleneck = true, blocks = {3, 4, 6, 3}, widths = {64, 128, 256, 512};
        if (blocks.size() != 4 || widths.size() != 4) throw InputError("random ResNet: 4 stage block counts and 4 widths are needed");
        const std::string p = ext ? "resnet." : "";
        const std::int64_t exp = bottleneck ? 4 : 1;
        in.conv(p + "conv1", widths[0], 3, 7);
        in.bn(p + "bn1", widths[0]);
        std::int64_t ch = widths[0];
        for (int st = 0; st < 4; ++st)
            for (int b = 0; b < blocks[st]; ++b) {
                const std::string q = p + "layer" + std::to_string(st + 1) + "." + std::to_string(b) + ".";
                const std::int64_t w = widths[st], out = w * exp;
                if (bottleneck) {
                    in.conv(q + "conv1", w, ch, 1), in.bn(q + "bn1", w);
                    in.conv(q + "conv2", w, w, 3), in.bn(q + "bn2", w);
                    in.conv(q + "conv3", out, w, 1), in.bn(q + "bn3", out);
                } else {
                    in.conv(q + "conv1", w, ch, 3), in.bn(q + "bn1", w);
                    in.conv(q + "conv2", w, w, 3), in.bn(q + "bn2", w);
                }
                if (b == 0 && (st > 0 || ch != out)) in.conv(q + "downsample.0", out, ch, 1), in.bn(q + "downsample.1", out);
                ch = out;
            }
        if (ext) {
            in.linear("resnet.fc", ch, ch);
            in.linear("fc", s.numClasses, ch);
        } else {
            in.linear("fc", s.numClasses, ch);
        }
    } else if (arch == "efficientnet_v2_s" || arch == "efficientnet_v2") {
        std::vector<int> blocks = s.stageBlocks;
        std::vector<std::int64_t> widths = s.stageWidths;
        if (arch == "efficientnet_v2_s") {
            blocks.clear();
            widths = {24};
            for (const auto& st : kV2S) blocks.push_back(st.blocks), widths.push_back(st.out);
            widths.push_back(1280);
        }
        if (blocks.size() != kV2S.size() || widths.size() != kV2S.size() + 2) throw InputError("random EfficientNetV2: 6 stage block counts and 8 widths are needed");
        in.conv("features.0.0", widths[0], 3, 3), in.bn("features.0.1", widths[0]);
        std::int64_t ch = widths[0];
        for (std::size_t st = 0; st < kV2S.size(); ++st)
            for (int b = 0; b < blocks[st]; ++b) {
                const std::string q = "features." + std::to_string(st + 1) + "." + std::to_string(b) + ".block.";
                const std::int64_t out = widths[st + 1], e = ch * kV2S[st].expand;
                if (kV2S[st].fused) {
                    if (kV2S[st].expand == 1) {
                        in.conv(q + "0.0", out, ch, 3), in.bn(q + "0.1", out);
                    } else {
                        in.conv(q + "0.0", e, ch, 3), in.bn(q + "0.1", e);
                        in.conv(q + "1.0", out, e, 1), in.bn(q + "1.1", out);
                    }
                } else {
                    const std::int64_t sq = std::max<std::int64_t>(1, ch / 4);
                    in.conv(q + "0.0", e, ch, 1), in.bn(q + "0.1", e);
                    in.conv(q + "1.0", e, 1, 3), in.bn(q + "1.1", e);
                    in.conv(q + "2.fc1", sq, e, 1, true), in.conv(q + "2.fc2", e, sq, 1, true);
                    in.conv(q + "3.0", out, e, 1), in.bn(q + "3.1", out);
                }
                ch = out;
            }
        const std::string head = "features." + std::to_string(kV2S.size() + 1);
        in.conv(head + ".0", widths.back(), ch, 1), in.bn(head + ".1", widths.back());
        in.linear("classifier", s.numClasses, widths.back());  // published: Linear(1280, n) without dropout
    } else {
        throw InputError("unknown architecture '" + arch + "' (resnet18, resnet50, resnet50_extended, efficientnet_v2_s, resnet, efficientnet_v2)");
    }
    return cnnFromStateDict(in.d, "random " + arch + " (seed " + std::to_string(s.seed) + ")");
}

CnnModel cnnWithNewHead(const CnnModel& base, std::int64_t numClasses, bool extended, std::uint64_t seed) {
    if (numClasses < 1) throw InputError("a classifier needs at least one output");
    Init in(seed);
    const std::int64_t ch = base.featureChannels;
    if (base.family == CnnFamily::EfficientNetV2) {
        if (extended) throw InputError(base.source + ": the extended head exists for ResNets only");
        for (const auto& [k, t] : base.weights)
            if (k.rfind("classifier", 0) != 0) in.d[k] = t.detach().clone();
        in.linear("classifier", numClasses, ch);
    } else if (extended) {
        const bool wasExtended = base.extendedHead;
        for (const auto& [k, t] : base.weights) {
            if (k.rfind("fc.", 0) == 0) continue;  // the final classifier (the extended model's resnet.fc is kept)
            in.d[wasExtended ? k : "resnet." + k] = t.detach().clone();
        }
        if (!wasExtended) in.linear("resnet.fc", ch, ch);
        in.linear("fc", numClasses, ch);
    } else {
        if (base.extendedHead) throw InputError(base.source + ": a resnet50_extended model keeps its extended head (train it as resnet50_extended)");
        for (const auto& [k, t] : base.weights)
            if (k.rfind("fc.", 0) != 0) in.d[k] = t.detach().clone();
        in.linear("fc", numClasses, ch);
    }
    CnnModel m = cnnFromStateDict(in.d, base.source + " + new head (" + std::to_string(numClasses) + " outputs, seed " + std::to_string(seed) + ")");
    m.imageMean = base.imageMean;
    m.imageStd = base.imageStd;
    return m;
}

at::Tensor cnnFeatures(const CnnModel& m, const at::Tensor& pixels, bool train) {
    if (pixels.dim() != 4 || pixels.size(1) != 3)
        throw InputError(m.source + ": input must be [B, 3, H, W], got " + shapeString(pixels.sizes()));
    return m.family == CnnFamily::ResNet ? resnetFeatures(m, pixels, train) : effFeatures(m, pixels, train);
}

at::Tensor cnnHead(const CnnModel& m, const at::Tensor& features, bool train) {
    at::Tensor x = torch::adaptive_avg_pool2d(features, {1, 1}).flatten(1);
    if (m.family == CnnFamily::ResNet) {
        const std::string p = m.extendedHead ? "resnet." : "";
        x = torch::linear(x, W(m, p + "fc.weight"), W(m, p + "fc.bias"));
        if (m.extendedHead) x = torch::linear(torch::dropout(torch::relu(x), 0.5, train), W(m, "fc.weight"), W(m, "fc.bias"));
        return x;
    }
    if (m.weights.count("classifier.1.weight"))
        return torch::linear(torch::dropout(x, 0.2, train), W(m, "classifier.1.weight"), W(m, "classifier.1.bias"));
    return torch::linear(x, W(m, "classifier.weight"), W(m, "classifier.bias"));
}

}  // namespace biasscope::model
