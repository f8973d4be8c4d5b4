#pragma once
// Data of the Attention-IoU study (reference-attention-iou.md section 1): CelebAMask-HQ (images,
// label-map masks, 40 attributes, the published seed-0 split) and Waterbirds (group-DRO
// metadata.csv layout with the authors' bird masks). Validation errors name the file and line.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <opencv2/core/mat.hpp>

namespace biasscope::data {

// np.random.seed(seed); np.random.permutation(n) (legacy MT19937, masked-rejection intervals).
std::vector<std::int64_t> numpyPermutation(std::int64_t n, std::uint32_t seed);

// CelebA's 40 attributes in the study's LABEL_DICT order (Male = 20).
const std::vector<std::string>& celebAttributeNames();
// CelebAMask-HQ parts (pixel value = index, 0 background ... 18 cloth) and the study's 14 groups
// (the column order of every Masks-*.csv).
const std::vector<std::string>& maskPartNames();
struct MaskGroup {
    std::string name;
    std::vector<int> parts;
};
const std::vector<MaskGroup>& celebMaskGroups();
// The 17 attributes of the mask figures and their part group (Eyeglasses -> eyes, as published).
const std::map<std::string, std::string>& attributeMaskGroup();
int maskGroupIndex(const std::string& name);  // -1 if unknown

struct AttributeTable {
    std::vector<std::string> files;
    std::vector<std::string> names;
    std::vector<std::vector<std::uint8_t>> values;  // [image][attribute] 0 / 1 (-1 read as 0)
    int column(const std::string& name) const;       // -1 if absent
    std::vector<int> labels(const std::string& name) const;  // throws InputError naming the attribute
};
// The study's CelebAMask-HQ-attribute-anno.csv ("filename <names>" header, whitespace separated) or
// the original CelebAMask-HQ-attribute-anno.txt (count line, names line, rows).
AttributeTable readAttributeTable(const std::string& path);

enum class Split { Train = 0, Val = 1, Test = 2 };

struct CelebAMaskHQ {
    std::string root;
    AttributeTable attributes;
    std::vector<int> split;  // per image: 0 train, 1 val, 2 test
    std::string splitSource;
    std::string imagePath(std::size_t i) const;  // CelebA-HQ-img/<file>
    std::string maskPath(std::size_t i) const;   // CelebAMask-HQ-mask/<stem>.png (label map)
    std::vector<std::size_t> indices(Split s) const;  // ascending image index, as published
};
// Split as published: permutation(30000) with seed 0; first 70 % train, next 15 % val, rest test
// (21000 / 4500 / 4500 for the full set; other sizes use the same fractions of n, labelled).
CelebAMaskHQ loadCelebAMaskHQ(const std::string& root, const std::string& attributeFile = "");

struct Waterbirds {
    std::string root;
    std::vector<std::string> files;
    std::vector<int> y, place, split;
    std::string imagePath(std::size_t i) const;
    std::string maskPath(std::size_t i) const;  // <class folder>/mask/<file>
    std::vector<std::size_t> indices(Split s) const;
};
// <root>/metadata.csv with img_filename, y, place, split. Missing images are an error naming the first.
Waterbirds loadWaterbirds(const std::string& root);

// Study-2 evaluation preprocessing of masks: resize to (R, R) with nearest-exact (R = size * 256/224),
// centre crop `size`. CelebAMask-HQ label map -> [14, size, size] binary group masks; Waterbirds
// grayscale mask -> [2, size, size] continuous {background = 1 - m, bird = m}.
at::Tensor celebGroupMasks(const std::string& labelMapPath, int size);
at::Tensor waterbirdsMasks(const std::string& maskPath, int size);
// Study-2 evaluation preprocessing of an image (data::evalTransform with squareResize):
// [3, size, size], normalised per channel (ImageNet by default; a ViT passes its own).
at::Tensor attentionEvalImage(const std::string& imagePath, int size, const std::vector<double>& mean = {0.485, 0.456, 0.406},
                              const std::vector<double>& std = {0.229, 0.224, 0.225});

}  // namespace biasscope::data
