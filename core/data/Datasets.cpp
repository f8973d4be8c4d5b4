#include "data/Datasets.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "common/Error.h"
#include "io/ImageIO.h"

namespace biasscope::data {

namespace fs = std::filesystem;

LabelledImages LabelledImages::subset(const std::vector<std::size_t>& idx) const {
    LabelledImages out;
    out.classNames = classNames;
    for (std::size_t i : idx) {
        out.files.push_back(files.at(i));
        out.labels.push_back(labels.at(i));
    }
    return out;
}

namespace {

std::vector<std::string> splitWs(const std::string& line) {
    std::istringstream is(line);
    std::vector<std::string> out;
    for (std::string w; is >> w;) out.push_back(w);
    return out;
}

std::string where(const std::string& path, std::size_t line) { return path + ":" + std::to_string(line); }

}  // namespace

CelebAAttributes readCelebAAttributes(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw InputError(path + ": cannot open the attribute file");
    CelebAAttributes a;
    std::string line;
    if (!std::getline(in, line)) throw InputError(where(path, 1) + ": empty file (expected the image count)");
    std::size_t declared = 0;
    try {
        std::size_t pos = 0;
        const std::string t = splitWs(line).empty() ? "" : splitWs(line).front();
        declared = std::stoul(t, &pos);
        if (pos != t.size()) throw std::invalid_argument("");
    } catch (const std::exception&) {
        throw InputError(where(path, 1) + ": expected the image count, found '" + line.substr(0, 40) + "'");
    }
    if (!std::getline(in, line)) throw InputError(where(path, 2) + ": missing the attribute names line");
    a.names = splitWs(line);
    if (a.names.empty()) throw InputError(where(path, 2) + ": no attribute names");
    std::size_t n = 2;
    while (std::getline(in, line)) {
        ++n;
        const auto f = splitWs(line);
        if (f.empty()) continue;
        if (f.size() != a.names.size() + 1)
            throw InputError(where(path, n) + ": " + std::to_string(f.size() - 1) + " values, expected " + std::to_string(a.names.size()) + " (one per attribute)");
        std::vector<std::int8_t> v(a.names.size());
        for (std::size_t i = 0; i < a.names.size(); ++i) {
            if (f[i + 1] == "1") v[i] = 1;
            else if (f[i + 1] == "-1") v[i] = -1;
            else throw InputError(where(path, n) + ": attribute '" + a.names[i] + "' is '" + f[i + 1] + "', expected -1 or 1");
        }
        a.files.push_back(f[0]);
        a.values.push_back(std::move(v));
    }
    if (a.files.size() != declared)
        throw InputError(path + ": line 1 declares " + std::to_string(declared) + " images, the file lists " + std::to_string(a.files.size()));
    return a;
}

SplitIndices stratifiedSplit(const std::vector<int>& labels, std::uint64_t seed, double trainFraction, double valFraction) {
    std::map<int, std::vector<std::size_t>> byClass;
    for (std::size_t i = 0; i < labels.size(); ++i) byClass[labels[i]].push_back(i);
    SplitIndices s;
    std::mt19937_64 rng(seed);
    for (auto& [label, idx] : byClass) {
        std::shuffle(idx.begin(), idx.end(), rng);
        const auto nTrain = static_cast<std::size_t>(std::llround(trainFraction * static_cast<double>(idx.size())));
        const auto nVal = std::min(idx.size() - nTrain, static_cast<std::size_t>(std::llround(valFraction * static_cast<double>(idx.size()))));
        s.train.insert(s.train.end(), idx.begin(), idx.begin() + static_cast<long>(nTrain));
        s.val.insert(s.val.end(), idx.begin() + static_cast<long>(nTrain), idx.begin() + static_cast<long>(nTrain + nVal));
        s.test.insert(s.test.end(), idx.begin() + static_cast<long>(nTrain + nVal), idx.end());
    }
    for (auto* v : {&s.train, &s.val, &s.test}) std::sort(v->begin(), v->end());
    return s;
}

namespace {

// `source`: the file or folder the images were listed in (named in the error)
DatasetSplits splitStratified(const LabelledImages& all, std::uint64_t seed, const std::string& source) {
    if (all.size() < 3) throw InputError(source + ": a dataset needs at least 3 images to split into train / val / test, found " + std::to_string(all.size()));
    const SplitIndices s = stratifiedSplit(all.labels, seed);
    return {all.subset(s.train), all.subset(s.val), all.subset(s.test), "stratified 80/10/10, seed " + std::to_string(seed)};
}

}  // namespace

std::map<std::string, int> readCelebAPartition(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw InputError(path + ": cannot open the partition file");
    std::map<std::string, int> split;
    std::string line;
    for (std::size_t n = 1; std::getline(in, line); ++n) {
        const auto f = splitWs(line);
        if (f.empty()) continue;
        if (f.size() != 2 || (f[1] != "0" && f[1] != "1" && f[1] != "2")) throw InputError(where(path, n) + ": expected '<file> 0|1|2'");
        if (!split.emplace(f[0], f[1][0] - '0').second) throw InputError(where(path, n) + ": '" + f[0].substr(0, 200) + "' listed twice");
    }
    return split;
}

DatasetSplits loadCelebA(const std::string& root, const std::string& attribute, std::uint64_t seed, bool usePartition) {
    const fs::path attrFile = fs::path(root) / "list_attr_celeba.txt";
    const fs::path imageDir = fs::path(root) / "img_align_celeba";
    if (!fs::is_directory(imageDir)) throw InputError(imageDir.string() + ": missing (CelebA layout: <root>/img_align_celeba/ + list_attr_celeba.txt)");
    const CelebAAttributes a = readCelebAAttributes(attrFile.string());
    const auto it = std::find(a.names.begin(), a.names.end(), attribute);
    if (it == a.names.end()) throw InputError(attrFile.string() + ": no attribute '" + attribute + "' (line 2 lists the 40 names)");
    const std::size_t col = static_cast<std::size_t>(it - a.names.begin());
    LabelledImages all;
    all.classNames = {"not " + attribute, attribute};
    for (std::size_t i = 0; i < a.files.size(); ++i) {
        all.files.push_back((imageDir / a.files[i]).string());
        all.labels.push_back((a.values[i][col] + 1) / 2);
    }
    for (const auto& f : all.files)
        if (std::error_code ec; !fs::exists(f, ec)) throw InputError(f + ": listed in " + attrFile.string() + " but not on disk");
    const fs::path part = fs::path(root) / "list_eval_partition.txt";
    if (!usePartition || !fs::exists(part)) return splitStratified(all, seed, attrFile.string());
    const std::map<std::string, int> split = readCelebAPartition(part.string());
    std::vector<std::size_t> idx[3];
    for (std::size_t i = 0; i < a.files.size(); ++i) {
        auto s = split.find(a.files[i]);
        if (s == split.end()) throw InputError(part.string() + ": no partition for " + a.files[i]);
        idx[s->second].push_back(i);
    }
    return {all.subset(idx[0]), all.subset(idx[1]), all.subset(idx[2]), "list_eval_partition.txt"};
}

DatasetSplits loadImageFolder(const std::string& root, std::uint64_t seed) {
    if (!fs::is_directory(root)) throw InputError(root + ": not a folder (expected <root>/<class>/<images>)");
    LabelledImages all;
    std::vector<fs::path> classes;
    for (const auto& e : fs::directory_iterator(root))
        if (e.is_directory()) classes.push_back(e.path());
    std::sort(classes.begin(), classes.end());
    if (classes.size() < 2) throw InputError(root + ": needs at least two class folders, found " + std::to_string(classes.size()));
    for (std::size_t c = 0; c < classes.size(); ++c) {
        all.classNames.push_back(classes[c].filename().string());
        const auto files = io::listImageFiles(classes[c].string());
        if (files.empty()) throw InputError(classes[c].string() + ": no images");
        for (const auto& f : files) {
            all.files.push_back(f);
            all.labels.push_back(static_cast<int>(c));
        }
    }
    return splitStratified(all, seed, root);
}

DatasetSplits loadCsvDataset(const std::string& csvPath, std::uint64_t seed) {
    std::ifstream in(csvPath);
    if (!in) throw InputError(csvPath + ": cannot open");
    std::string line;
    if (!std::getline(in, line)) throw InputError(where(csvPath, 1) + ": empty file");
    auto cells = [](const std::string& l) {
        std::vector<std::string> out;
        std::stringstream ss(l);
        for (std::string c; std::getline(ss, c, ',');) {
            while (!c.empty() && (c.back() == '\r' || c.back() == ' ')) c.pop_back();
            out.push_back(c);
        }
        return out;
    };
    const auto header = cells(line);
    auto col = [&](const std::string& name) { return static_cast<int>(std::find(header.begin(), header.end(), name) - header.begin()); };
    const int pathCol = col("path"), labelCol = col("label"), splitCol = col("split");
    if (pathCol >= static_cast<int>(header.size()) || labelCol >= static_cast<int>(header.size()))
        throw InputError(where(csvPath, 1) + ": the header needs 'path' and 'label' columns");
    const bool hasSplit = splitCol < static_cast<int>(header.size());
    const fs::path base = fs::path(csvPath).parent_path();
    std::vector<std::string> files, rawLabels, splits;
    for (std::size_t n = 2; std::getline(in, line); ++n) {
        if (line.empty()) continue;
        const auto c = cells(line);
        if (c.size() < header.size()) throw InputError(where(csvPath, n) + ": " + std::to_string(c.size()) + " cells, the header has " + std::to_string(header.size()));
        const fs::path p = fs::path(c[static_cast<std::size_t>(pathCol)]);
        files.push_back((p.is_absolute() ? p : base / p).string());
        rawLabels.push_back(c[static_cast<std::size_t>(labelCol)]);
        if (hasSplit) {
            const std::string& s = c[static_cast<std::size_t>(splitCol)];
            if (s != "train" && s != "val" && s != "test") throw InputError(where(csvPath, n) + ": split '" + s + "' (expected train, val or test)");
            splits.push_back(s);
        }
    }
    const bool numeric = std::all_of(rawLabels.begin(), rawLabels.end(), [](const std::string& s) {
        return !s.empty() && std::all_of(s.begin(), s.end(), [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); });
    });
    LabelledImages all;
    all.files = files;
    if (numeric) {
        int mx = -1;
        for (std::size_t i = 0; i < rawLabels.size(); ++i) {
            const std::string& s = rawLabels[i];
            if (s.size() > 6) throw InputError(csvPath + ": label '" + s + "' of " + files[i] + ": class indices must be below 1000000");
            all.labels.push_back(std::stoi(s));
            mx = std::max(mx, all.labels.back());
        }
        for (int i = 0; i <= mx; ++i) all.classNames.push_back(std::to_string(i));
    } else {
        std::set<std::string> names(rawLabels.begin(), rawLabels.end());
        all.classNames.assign(names.begin(), names.end());
        for (const auto& s : rawLabels)
            all.labels.push_back(static_cast<int>(std::find(all.classNames.begin(), all.classNames.end(), s) - all.classNames.begin()));
    }
    if (!hasSplit) return splitStratified(all, seed, csvPath);
    std::vector<std::size_t> idx[3];
    for (std::size_t i = 0; i < splits.size(); ++i) idx[splits[i] == "train" ? 0 : splits[i] == "val" ? 1 : 2].push_back(i);
    return {all.subset(idx[0]), all.subset(idx[1]), all.subset(idx[2]), csvPath + " split column"};
}

}  // namespace biasscope::data
