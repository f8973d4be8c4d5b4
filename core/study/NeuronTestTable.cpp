#include "study/NeuronTestTable.h"

#include <cmath>
#include <iomanip>
#include <sstream>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "common/Error.h"
#include "io/AtomicFile.h"
#include "io/Csv.h"
#include "io/Safetensors.h"

namespace biasscope::study {

namespace {

constexpr const char* kFormat = "biasscope.neuron-tests.v1";

std::string num(double v) {
    std::ostringstream os;
    os << std::setprecision(17) << v;
    return os.str();
}

template <typename T>
at::Tensor tensorOf(const std::vector<T>& v, int layers, int neurons, at::ScalarType type) {
    return torch::from_blob(const_cast<T*>(v.data()), {layers, neurons}, type).clone();
}

template <typename T>
std::vector<T> vectorOf(const at::Tensor& t) {
    const at::Tensor c = t.contiguous();
    return std::vector<T>(c.data_ptr<T>(), c.data_ptr<T>() + c.numel());
}

}  // namespace

NeuronTestFamily makeNeuronTestFamily(const std::string& family, const std::string& group, const std::string& site, const std::string& comparison,
                                      const std::vector<analysis::NeuronTest>& tests) {
    NeuronTestFamily f{family, group, site, comparison, family == "paired" ? "paired" : "student", 0, 0, 0, 0, {}, {}, {}, {}, {}, {}, {}};
    for (const auto& t : tests) {
        f.layers = std::max(f.layers, t.layer + 1);
        f.neurons = std::max(f.neurons, t.neuron + 1);
    }
    if (static_cast<std::size_t>(f.layers) * static_cast<std::size_t>(f.neurons) != tests.size())
        throw InputError("per-neuron tests of " + f.key() + ": not one test per layer and neuron");
    const std::size_t n = tests.size();
    f.t.assign(n, NAN), f.dof.assign(n, NAN), f.d.assign(n, NAN), f.mean1.assign(n, NAN), f.mean2.assign(n, NAN);
    f.p.assign(n, NAN), f.q.assign(n, NAN);
    for (const auto& t : tests) {
        const std::size_t c = f.cell(t.layer, t.neuron);
        const auto& r = t.result;
        f.t[c] = static_cast<float>(r.t);
        f.dof[c] = static_cast<float>(r.dof);
        f.d[c] = static_cast<float>(t.d);
        f.mean1[c] = static_cast<float>(r.meanX);
        f.mean2[c] = static_cast<float>(r.meanY);
        f.p[c] = r.p;
        f.q[c] = t.q;
        f.n1 = std::max(f.n1, static_cast<int>(r.nX));
        f.n2 = std::max(f.n2, static_cast<int>(r.nY));
        if (r.welch) f.test = "welch";
    }
    return f;
}

void writeNeuronTests(const std::string& path, const std::string& significantCsv, const std::vector<NeuronTestFamily>& families) {
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    nlohmann::json meta = nlohmann::json::array();
    std::ostringstream csv;
    csv << "family,group,site,comparison,layer,neuron,n1,n2,t,dof,p,q,d,mean1,mean2,test\n";
    for (std::size_t i = 0; i < families.size(); ++i) {
        const auto& f = families[i];
        meta.push_back({{"family", f.family}, {"group", f.group}, {"site", f.site}, {"comparison", f.comparison}, {"test", f.test},
                        {"layers", f.layers}, {"neurons", f.neurons}, {"n1", f.n1}, {"n2", f.n2}});
        const std::string pre = "f" + std::to_string(i) + ".";
        tensors.emplace_back(pre + "t", tensorOf(f.t, f.layers, f.neurons, torch::kFloat32));
        tensors.emplace_back(pre + "dof", tensorOf(f.dof, f.layers, f.neurons, torch::kFloat32));
        tensors.emplace_back(pre + "d", tensorOf(f.d, f.layers, f.neurons, torch::kFloat32));
        tensors.emplace_back(pre + "mean1", tensorOf(f.mean1, f.layers, f.neurons, torch::kFloat32));
        tensors.emplace_back(pre + "mean2", tensorOf(f.mean2, f.layers, f.neurons, torch::kFloat32));
        tensors.emplace_back(pre + "p", tensorOf(f.p, f.layers, f.neurons, torch::kFloat64));
        tensors.emplace_back(pre + "q", tensorOf(f.q, f.layers, f.neurons, torch::kFloat64));
        const std::string prefix = io::csvField(f.family) + "," + io::csvField(f.group) + "," + io::csvField(f.site) + "," + io::csvField(f.comparison) + ",";
        for (int l = 0; l < f.layers; ++l)
            for (int n = 0; n < f.neurons; ++n) {
                const std::size_t c = f.cell(l, n);
                if (!f.significant(c)) continue;
                csv << prefix << l << "," << n << "," << f.n1 << "," << f.n2 << "," << num(f.t[c]) << "," << num(f.dof[c]) << "," << num(f.p[c]) << ","
                    << num(f.q[c]) << "," << num(f.d[c]) << "," << num(f.mean1[c]) << "," << num(f.mean2[c]) << "," << f.test << "\n";
            }
    }
    io::writeSafetensors(path, tensors, {{"format", kFormat}, {"families", meta.dump()}});
    if (!significantCsv.empty()) io::writeFileAtomically(significantCsv, csv.str());
}

std::vector<NeuronTestFamily> readNeuronTests(const std::string& path) {
    io::SafetensorsContents c;
    try {
        c = io::readSafetensors(path);
    } catch (const std::exception& e) {
        throw InputError(std::string(e.what()) + " (run `biasscope-cli study analyze` on the store)");
    }
    if (c.metadata["format"] != kFormat)
        throw InputError(path + ": not a BiasScope per-neuron test table (format '" + c.metadata["format"] + "', expected " + kFormat + ")");
    nlohmann::json meta;
    try {
        meta = nlohmann::json::parse(c.metadata["families"]);
    } catch (const std::exception&) {
        throw InputError(path + ": the 'families' metadata is not JSON");
    }
    if (!meta.is_array()) throw InputError(path + ": the 'families' metadata is not a list");
    std::map<std::string, at::Tensor> byName(c.tensors.begin(), c.tensors.end());
    std::vector<NeuronTestFamily> out;
    for (std::size_t i = 0; i < meta.size(); ++i) {
        const auto& m = meta[i];
        NeuronTestFamily f;
        try {
            f.family = m.at("family").get<std::string>();
            f.group = m.at("group").get<std::string>();
            f.site = m.at("site").get<std::string>();
            f.comparison = m.at("comparison").get<std::string>();
            f.test = m.at("test").get<std::string>();
            f.layers = m.at("layers").get<int>();
            f.neurons = m.at("neurons").get<int>();
            f.n1 = m.at("n1").get<int>();
            f.n2 = m.at("n2").get<int>();
        } catch (const std::exception& e) {
            throw InputError(path + ": family " + std::to_string(i) + " of the metadata is incomplete (" + e.what() + ")");
        }
        const std::string pre = "f" + std::to_string(i) + ".";
        auto get = [&](const char* name, at::ScalarType type) {
            const auto it = byName.find(pre + name);
            if (it == byName.end()) throw InputError(path + ": missing tensor '" + pre + name + "'");
            if (it->second.dim() != 2 || it->second.size(0) != f.layers || it->second.size(1) != f.neurons || it->second.scalar_type() != type)
                throw InputError(path + ": tensor '" + pre + name + "' has shape " + c10::str(it->second.sizes()) + " and type " +
                                 c10::toString(it->second.scalar_type()) + "; the metadata says [" + std::to_string(f.layers) + ", " +
                                 std::to_string(f.neurons) + "] " + c10::toString(type));
            return it->second;
        };
        f.t = vectorOf<float>(get("t", torch::kFloat32));
        f.dof = vectorOf<float>(get("dof", torch::kFloat32));
        f.d = vectorOf<float>(get("d", torch::kFloat32));
        f.mean1 = vectorOf<float>(get("mean1", torch::kFloat32));
        f.mean2 = vectorOf<float>(get("mean2", torch::kFloat32));
        f.p = vectorOf<double>(get("p", torch::kFloat64));
        f.q = vectorOf<double>(get("q", torch::kFloat64));
        out.push_back(std::move(f));
    }
    return out;
}

NeuronTestIndex::NeuronTestIndex(std::vector<NeuronTestFamily> families) : families_(std::move(families)) {
    for (std::size_t i = 0; i < families_.size(); ++i) byKey_.emplace(families_[i].key(), static_cast<int>(i));
}

std::vector<std::string> NeuronTestIndex::keys() const {
    std::vector<std::string> k;
    for (const auto& f : families_) k.push_back(f.key());
    return k;
}

const NeuronTestFamily* NeuronTestIndex::family(const std::string& key) const {
    const auto it = byKey_.find(key);
    return it == byKey_.end() ? nullptr : &families_[static_cast<std::size_t>(it->second)];
}

std::vector<std::pair<int, std::size_t>> NeuronTestIndex::ofNeuron(const std::string& site, int layer, int neuron) const {
    std::vector<std::pair<int, std::size_t>> out;
    for (std::size_t i = 0; i < families_.size(); ++i) {
        const auto& f = families_[i];
        if (f.site == site && layer >= 0 && layer < f.layers && neuron >= 0 && neuron < f.neurons) out.emplace_back(static_cast<int>(i), f.cell(layer, neuron));
    }
    return out;
}

}  // namespace biasscope::study
