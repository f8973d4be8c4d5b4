#pragma once
// Labelled image datasets for training: CelebA (img_align_celeba/ + list_attr_celeba.txt, optional
// list_eval_partition.txt), a class-per-folder tree, and a CSV of (path, label). Malformed files give
// errors naming the file and line.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace biasscope::data {

struct LabelledImages {
    std::vector<std::string> files;
    std::vector<int> labels;
    std::vector<std::string> classNames;  // label i is classNames[i]
    std::size_t size() const { return files.size(); }
    LabelledImages subset(const std::vector<std::size_t>& indices) const;
};

struct DatasetSplits {
    LabelledImages train, val, test;
    std::string splitSource;  // "list_eval_partition.txt" or "stratified 80/10/10, seed N"
};

struct CelebAAttributes {
    std::vector<std::string> names;  // the 40 attribute names
    std::vector<std::string> files;
    std::vector<std::vector<std::int8_t>> values;  // [image][attribute], -1 / 1
};

// list_attr_celeba.txt: line 1 the image count, line 2 the attribute names, then "file v1 ... vN".
CelebAAttributes readCelebAAttributes(const std::string& path);

// list_eval_partition.txt: "file 0|1|2" per line (train / val / test); a file listed twice is an error.
std::map<std::string, int> readCelebAPartition(const std::string& path);

// Deterministic stratified split: per class, a seeded shuffle, then the first `train` fraction, the
// next `val` fraction, the rest test (each class keeps its ratio in every split, to rounding).
struct SplitIndices {
    std::vector<std::size_t> train, val, test;
};
SplitIndices stratifiedSplit(const std::vector<int>& labels, std::uint64_t seed, double trainFraction = 0.8, double valFraction = 0.1);

// CelebA with `attribute` as the label ((v + 1) / 2: Male -> 1). Uses list_eval_partition.txt when
// `partitionFile` is non-empty or <root>/list_eval_partition.txt exists and `usePartition`; otherwise
// the stratified split with `seed`. Images listed but missing on disk are an error naming the first.
DatasetSplits loadCelebA(const std::string& root, const std::string& attribute, std::uint64_t seed, bool usePartition = true);

// <root>/<class>/<image>: classes sorted by name; stratified split.
DatasetSplits loadImageFolder(const std::string& root, std::uint64_t seed);

// CSV with a header containing "path" and "label" (and optionally "split" = train/val/test); relative
// paths are relative to the CSV. Labels are integers or class names (sorted).
DatasetSplits loadCsvDataset(const std::string& csvPath, std::uint64_t seed);

}  // namespace biasscope::data
