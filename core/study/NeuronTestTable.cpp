#include "study/NeuronTestTable.h"

#include <cmath>
#include <fstream>
#include <iomanip>
#include <map>
#include <sstream>

#include "common/Error.h"
#include "io/Csv.h"

namespace biasscope::study {

namespace {

const std::vector<std::string> kColumns{"family", "group", "site", "comparison", "layer", "neuron", "n1",  "n2",   "t",
                                        "dof",    "p",     "q",    "significant", "d",   "mean1",  "mean2", "test", "invalid_reason"};

std::string num(double v) {
    std::ostringstream os;
    os << std::setprecision(17) << v;
    return os.str();
}

double toDouble(const std::string& s, const std::string& where) {
    if (s == "nan" || s == "-nan" || s == "NaN") return std::nan("");
    if (s == "inf") return INFINITY;
    if (s == "-inf") return -INFINITY;
    std::size_t used = 0;
    double v = 0;
    try {
        v = std::stod(s, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != s.size()) throw InputError(where + ": '" + s + "' is not a number");
    return v;
}

}  // namespace

std::string neuronTestHeader() {
    std::string h;
    for (const auto& c : kColumns) h += (h.empty() ? "" : ",") + c;
    return h + "\n";
}

void appendNeuronTestRows(std::string& csv, const std::string& family, const std::string& group, const std::string& site, const std::string& comparison,
                          const std::vector<analysis::NeuronTest>& tests) {
    std::ostringstream os;
    const std::string prefix = io::csvField(family) + "," + io::csvField(group) + "," + io::csvField(site) + "," + io::csvField(comparison) + ",";
    for (const auto& t : tests) {
        const auto& r = t.result;
        os << prefix << t.layer << "," << t.neuron << "," << r.nX << "," << r.nY << "," << num(r.t) << "," << num(r.dof) << "," << num(r.p) << "," << num(t.q)
           << "," << (t.significant ? "true" : "false") << "," << num(t.d) << "," << num(r.meanX) << "," << num(r.meanY) << ","
           << (r.welch ? "welch" : (family == "paired" ? "paired" : "student")) << "," << io::csvField(r.invalidReason) << "\n";
    }
    csv += os.str();
}

std::vector<NeuronTestRow> readNeuronTests(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(path + ": cannot open (run `biasscope-cli study analyze` on the store)");
    std::stringstream buf;
    buf << in.rdbuf();
    const auto records = io::parseCsv(buf.str(), path);
    if (records.empty()) throw InputError(path + ": empty file");
    std::map<std::string, std::size_t> col;
    for (std::size_t i = 0; i < records[0].size(); ++i) col[records[0][i]] = i;
    for (const auto& c : kColumns)
        if (!col.count(c)) throw InputError(path + ": no column '" + c + "' (written by another BiasScope version?)");
    std::vector<NeuronTestRow> rows;
    rows.reserve(records.size() - 1);
    for (std::size_t r = 1; r < records.size(); ++r) {
        const auto& f = records[r];
        const std::string where = path + " row " + std::to_string(r + 1);
        auto get = [&](const char* c) -> const std::string& { return f[col.at(c)]; };
        auto integer = [&](const char* c) {
            const double v = toDouble(get(c), where);
            if (!std::isfinite(v) || v != std::floor(v)) throw InputError(where + ": " + c + " '" + get(c) + "' is not an integer");
            return static_cast<int>(v);
        };
        NeuronTestRow row;
        row.family = get("family");
        row.group = get("group");
        row.site = get("site");
        row.comparison = get("comparison");
        row.layer = integer("layer");
        row.neuron = integer("neuron");
        row.n1 = integer("n1");
        row.n2 = integer("n2");
        row.t = toDouble(get("t"), where);
        row.dof = toDouble(get("dof"), where);
        row.p = toDouble(get("p"), where);
        row.q = toDouble(get("q"), where);
        row.significant = get("significant") == "true";
        row.d = toDouble(get("d"), where);
        row.mean1 = toDouble(get("mean1"), where);
        row.mean2 = toDouble(get("mean2"), where);
        row.test = get("test");
        row.invalidReason = get("invalid_reason");
        rows.push_back(std::move(row));
    }
    return rows;
}

NeuronTestIndex::NeuronTestIndex(std::vector<NeuronTestRow> rows) : rows_(std::move(rows)) {
    for (std::size_t i = 0; i < rows_.size(); ++i) {
        const auto& r = rows_[i];
        auto [it, added] = byFamily_.try_emplace(r.familyKey());
        if (added) families_.push_back(it->first);
        it->second.push_back(static_cast<int>(i));
        byNeuron_[{r.site, r.layer, r.neuron}].push_back(static_cast<int>(i));
    }
}

const std::vector<int>& NeuronTestIndex::family(const std::string& key) const {
    static const std::vector<int> none;
    const auto it = byFamily_.find(key);
    return it == byFamily_.end() ? none : it->second;
}

std::vector<int> NeuronTestIndex::ofNeuron(const std::string& site, int layer, int neuron) const {
    const auto it = byNeuron_.find({site, layer, neuron});
    return it == byNeuron_.end() ? std::vector<int>{} : it->second;
}

}  // namespace biasscope::study
