#include "data/AttentionData.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/types.h>

#include "common/Error.h"
#include "data/Transforms.h"
#include "io/ImageIO.h"

namespace biasscope::data {

namespace fs = std::filesystem;

std::vector<std::int64_t> numpyPermutation(std::int64_t n, std::uint32_t seed) {
    std::mt19937 mt(seed);  // init_genrand(seed), as np.random.seed(int)
    std::vector<std::int64_t> a(static_cast<std::size_t>(std::max<std::int64_t>(n, 0)));
    for (std::int64_t i = 0; i < n; ++i) a[static_cast<std::size_t>(i)] = i;
    for (std::int64_t i = n - 1; i >= 1; --i) {
        std::uint64_t mask = static_cast<std::uint64_t>(i);
        for (int s = 1; s <= 32; s <<= 1) mask |= mask >> s;
        std::uint64_t v;
        do v = mt() & mask;
        while (v > static_cast<std::uint64_t>(i));
        std::swap(a[static_cast<std::size_t>(i)], a[static_cast<std::size_t>(v)]);
    }
    return a;
}

const std::vector<std::string>& celebAttributeNames() {
    static const std::vector<std::string> n{
        "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive",      "Bags_Under_Eyes", "Bald",          "Bangs",
        "Big_Lips",         "Big_Nose",        "Black_Hair",      "Blond_Hair",      "Blurry",        "Brown_Hair",
        "Bushy_Eyebrows",   "Chubby",          "Double_Chin",     "Eyeglasses",      "Goatee",        "Gray_Hair",
        "Heavy_Makeup",     "High_Cheekbones", "Male",            "Mouth_Slightly_Open", "Mustache",  "Narrow_Eyes",
        "No_Beard",         "Oval_Face",       "Pale_Skin",       "Pointy_Nose",     "Receding_Hairline", "Rosy_Cheeks",
        "Sideburns",        "Smiling",         "Straight_Hair",   "Wavy_Hair",       "Wearing_Earrings", "Wearing_Hat",
        "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young"};
    return n;
}

const std::vector<std::string>& maskPartNames() {
    static const std::vector<std::string> n{"background", "skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear", "r_ear",
                                            "mouth",      "u_lip", "l_lip", "hair", "hat",   "ear_r", "neck_l", "neck", "cloth"};
    return n;
}

const std::vector<MaskGroup>& celebMaskGroups() {
    static const std::vector<MaskGroup> g{{"background", {0}}, {"skin", {1}},        {"nose", {2}},   {"eyeglasses", {3}}, {"eyes", {4, 5}},
                                          {"eyebrows", {6, 7}}, {"ears", {8, 9}},     {"mouth", {10, 11, 12}}, {"hair", {13}}, {"hat", {14}},
                                          {"earrings", {15}},  {"necklace", {16}},   {"neck", {17}},  {"cloth", {18}}};
    return g;
}

const std::map<std::string, std::string>& attributeMaskGroup() {
    static const std::map<std::string, std::string> m{
        {"Arched_Eyebrows", "eyebrows"}, {"Bushy_Eyebrows", "eyebrows"}, {"Bangs", "hair"},       {"Black_Hair", "hair"},
        {"Blond_Hair", "hair"},          {"Brown_Hair", "hair"},         {"Gray_Hair", "hair"},   {"Straight_Hair", "hair"},
        {"Wavy_Hair", "hair"},           {"Big_Lips", "mouth"},          {"Mouth_Slightly_Open", "mouth"}, {"Wearing_Lipstick", "mouth"},
        {"Smiling", "mouth"},            {"Narrow_Eyes", "eyes"},        {"Eyeglasses", "eyes"},  {"Big_Nose", "nose"},
        {"Pointy_Nose", "nose"}};
    return m;
}

int maskGroupIndex(const std::string& name) {
    const auto& g = celebMaskGroups();
    for (std::size_t i = 0; i < g.size(); ++i)
        if (g[i].name == name) return static_cast<int>(i);
    return -1;
}

int AttributeTable::column(const std::string& name) const {
    for (std::size_t i = 0; i < names.size(); ++i)
        if (names[i] == name) return static_cast<int>(i);
    return -1;
}

std::vector<int> AttributeTable::labels(const std::string& name) const {
    const int c = column(name);
    if (c < 0) throw InputError("unknown attribute '" + name + "' (the attribute file has " + std::to_string(names.size()) + " columns)");
    std::vector<int> out(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) out[i] = values[i][static_cast<std::size_t>(c)];
    return out;
}

AttributeTable readAttributeTable(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw InputError(path + ": cannot open attribute file");
    AttributeTable t;
    std::string line;
    int lineNo = 0;
    auto words = [](const std::string& s) {
        std::istringstream ss(s);
        std::vector<std::string> w;
        for (std::string x; ss >> x;) w.push_back(x);
        return w;
    };
    // header: "filename n1 ... nK" (converted csv) or "count" then "n1 ... nK" (original txt)
    while (std::getline(in, line) && words(line).empty()) ++lineNo;
    ++lineNo;
    auto head = words(line);
    if (head.size() == 1 && std::all_of(head[0].begin(), head[0].end(), ::isdigit)) {
        if (!std::getline(in, line)) throw InputError(path + ": ends after the image count line");
        ++lineNo;
        head = words(line);
    } else if (!head.empty() && head[0] == "filename") {
        head.erase(head.begin());
    } else {
        throw InputError(path + ":" + std::to_string(lineNo) + ": expected a header 'filename <attributes>' or an image count line");
    }
    if (head.empty()) throw InputError(path + ": no attribute names");
    t.names = head;
    while (std::getline(in, line)) {
        ++lineNo;
        const auto w = words(line);
        if (w.empty()) continue;
        if (w.size() != head.size() + 1)
            throw InputError(path + ":" + std::to_string(lineNo) + ": " + std::to_string(w.size() - 1) + " values, expected " + std::to_string(head.size()));
        std::vector<std::uint8_t> row;
        for (std::size_t k = 1; k < w.size(); ++k) {
            if (w[k] == "1")
                row.push_back(1);
            else if (w[k] == "-1" || w[k] == "0")
                row.push_back(0);
            else
                throw InputError(path + ":" + std::to_string(lineNo) + ": value '" + w[k] + "' for " + head[k - 1] + " is not 1, 0 or -1");
        }
        t.files.push_back(w[0]);
        t.values.push_back(std::move(row));
    }
    if (t.files.empty()) throw InputError(path + ": no images listed");
    return t;
}

std::string CelebAMaskHQ::imagePath(std::size_t i) const { return (fs::path(root) / "CelebA-HQ-img" / attributes.files[i]).string(); }
std::string CelebAMaskHQ::maskPath(std::size_t i) const {
    return (fs::path(root) / "CelebAMask-HQ-mask" / (fs::path(attributes.files[i]).stem().string() + ".png")).string();
}

namespace {
std::vector<std::size_t> indicesOf(const std::vector<int>& split, Split s) {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < split.size(); ++i)
        if (split[i] == static_cast<int>(s)) out.push_back(i);
    return out;
}
}  // namespace

std::vector<std::size_t> CelebAMaskHQ::indices(Split s) const { return indicesOf(split, s); }

CelebAMaskHQ loadCelebAMaskHQ(const std::string& root, const std::string& attributeFile) {
    CelebAMaskHQ d;
    d.root = root;
    std::string attr = attributeFile;
    if (attr.empty())
        for (const char* name : {"CelebAMask-HQ-attribute-anno.csv", "CelebAMask-HQ-attribute-anno.txt"})
            if (fs::exists(fs::path(root) / name)) {
                attr = (fs::path(root) / name).string();
                break;
            }
    if (attr.empty()) throw InputError(root + ": no CelebAMask-HQ-attribute-anno.csv or .txt");
    d.attributes = readAttributeTable(attr);
    if (!fs::is_directory(fs::path(root) / "CelebA-HQ-img")) throw InputError(root + ": no CelebA-HQ-img/ folder");
    for (std::size_t i = 0; i < d.attributes.files.size(); ++i)
        if (std::error_code ec; !fs::exists(d.imagePath(i), ec)) throw InputError(attr + ": image '" + d.attributes.files[i] + "' is listed but " + d.imagePath(i) + " does not exist");
    const auto n = static_cast<std::int64_t>(d.attributes.files.size());
    const auto perm = numpyPermutation(n, 0);
    // published (celeb.py): train = perm[:int(n * 0.7)], val = perm[int(n * 0.7):int(n * (0.7 + 0.15))],
    // test = perm[int(n * (1 - 0.15)):], over np.zeros (so an image in none of them would be train), in doubles
    // as Python computes them: 21000 / 4500 / 4500 for n = 30000, 143 / 31 / 31 for n = 205
    const auto cut = [n](double f) { return static_cast<std::int64_t>(static_cast<double>(n) * f); };
    const double trainShare = 0.7, valShare = 0.15, testShare = 0.15;
    const std::int64_t trainEnd = cut(trainShare), valEnd = cut(trainShare + valShare), testStart = cut(1 - testShare);
    d.split.assign(static_cast<std::size_t>(n), 0);
    for (std::int64_t k = 0; k < n; ++k) {
        auto& s = d.split[static_cast<std::size_t>(perm[static_cast<std::size_t>(k)])];
        if (k >= trainEnd && k < valEnd) s = 1;
        if (k >= testStart) s = 2;
    }
    d.splitSource = "published: numpy permutation(" + std::to_string(n) + "), seed 0; train perm[:" + std::to_string(trainEnd) + "], val perm[" +
                    std::to_string(trainEnd) + ":" + std::to_string(valEnd) + "], test perm[" + std::to_string(testStart) + ":]";
    return d;
}

std::string Waterbirds::imagePath(std::size_t i) const { return (fs::path(root) / files[i]).string(); }
std::string Waterbirds::maskPath(std::size_t i) const {
    const fs::path f(files[i]);
    return (fs::path(root) / f.parent_path() / "mask" / f.filename()).string();
}
std::vector<std::size_t> Waterbirds::indices(Split s) const { return indicesOf(split, s); }

Waterbirds loadWaterbirds(const std::string& root) {
    const std::string path = (fs::path(root) / "metadata.csv").string();
    std::ifstream in(path);
    if (!in) throw InputError(root + ": no metadata.csv (expected the group-DRO Waterbirds layout)");
    Waterbirds d;
    d.root = root;
    std::string line;
    if (!std::getline(in, line)) throw InputError(path + ": empty");
    if (!line.empty() && line.back() == '\r') line.pop_back();      // CRLF (a file saved on Windows)
    if (line.rfind("\xEF\xBB\xBF", 0) == 0) line = line.substr(3);  // UTF-8 byte-order mark (Excel)
    std::vector<std::string> head;
    {
        std::stringstream ss(line);
        for (std::string c; std::getline(ss, c, ',');) head.push_back(c);
    }
    auto col = [&](const char* name) {
        for (std::size_t i = 0; i < head.size(); ++i)
            if (head[i] == name) return static_cast<int>(i);
        throw InputError(path + ": header has no '" + std::string(name) + "' column");
    };
    const int cf = col("img_filename"), cy = col("y"), cp = col("place"), cs = col("split");
    int lineNo = 1;
    while (std::getline(in, line)) {
        ++lineNo;
        if (line.empty() || line == "\r") continue;
        if (line.back() == '\r') line.pop_back();
        std::vector<std::string> f;
        std::stringstream ss(line);
        for (std::string c; std::getline(ss, c, ',');) f.push_back(c);
        if (f.size() < head.size()) throw InputError(path + ":" + std::to_string(lineNo) + ": " + std::to_string(f.size()) + " fields, expected " + std::to_string(head.size()));
        auto num = [&](int c, int lo, int hi) {
            const std::string& s = f[static_cast<std::size_t>(c)];
            char* end = nullptr;
            const long v = std::strtol(s.c_str(), &end, 10);
            if (s.empty() || *end != 0 || v < lo || v > hi)
                throw InputError(path + ":" + std::to_string(lineNo) + ": " + head[static_cast<std::size_t>(c)] + " = '" + s + "', expected " + std::to_string(lo) + ".." + std::to_string(hi));
            return static_cast<int>(v);
        };
        d.files.push_back(f[static_cast<std::size_t>(cf)]);
        d.y.push_back(num(cy, 0, 1));
        d.place.push_back(num(cp, 0, 1));
        d.split.push_back(num(cs, 0, 2));
    }
    if (d.files.empty()) throw InputError(path + ": no images listed");
    for (std::size_t i = 0; i < d.files.size(); ++i)
        if (std::error_code ec; !fs::exists(d.imagePath(i), ec)) throw InputError(path + ": image '" + d.files[i] + "' is listed but " + d.imagePath(i) + " does not exist");
    return d;
}

namespace {
// The published mask pipeline (bias_dataset.transform): PIL convert('RGB'), resize to (R, R) with torch's
// nearest-exact (R = size * 256 / 224), centre crop, /255, then to_grayscale (0.2989 R + 0.587 G + 0.114 B in
// float32), so a white mask pixel is 0.9999, not 1. CV_32F [size, size].
cv::Mat publishedMask(const std::string& path, int size, const char* what) {
    if (!fs::exists(path)) throw InputError(path + ": " + what + " not found");
    cv::Mat bgr;  // grey and palette PNGs expanded to 3 channels, as convert('RGB')
    try {
        bgr = io::readImageFile(path, cv::IMREAD_COLOR);
    } catch (const Error& e) {
        throw InputError(std::string(e.what()) + " (" + what + ")");
    }
    const int R = size * 256 / 224;
    const cv::Mat r = resizeNearestExact(bgr, R, R);
    const int off = static_cast<int>(std::nearbyint((R - size) / 2.0));  // torchvision center_crop: round((R - size) / 2)
    cv::Mat out(size, size, CV_32F);
    for (int y = 0; y < size; ++y) {
        const auto* src = r.ptr<cv::Vec3b>(y + off) + off;
        auto* dst = out.ptr<float>(y);
        for (int x = 0; x < size; ++x) {
            const float red = src[x][2] / 255.0f, green = src[x][1] / 255.0f, blue = src[x][0] / 255.0f;
            dst[x] = red * 0.2989f + green * 0.587f + blue * 0.114f;
        }
    }
    return out;
}
}  // namespace

at::Tensor celebGroupMasks(const std::string& labelMapPath, int size) {
    const cv::Mat m = publishedMask(labelMapPath, size, "label-map mask");
    const auto& groups = celebMaskGroups();
    at::Tensor out = torch::zeros({static_cast<std::int64_t>(groups.size()), size, size});
    auto acc = out.accessor<float, 3>();
    std::vector<int> groupOfPart(256, -1);
    for (std::size_t g = 0; g < groups.size(); ++g)
        for (int p : groups[g].parts) groupOfPart[static_cast<std::size_t>(p)] = static_cast<int>(g);
    for (int y = 0; y < size; ++y)
        for (int x = 0; x < size; ++x) {
            const int part = static_cast<int>(std::nearbyint(m.at<float>(y, x) * 255.0f));  // published: round(mask * 255)
            const int g = groupOfPart[static_cast<std::size_t>(std::clamp(part, 0, 255))];
            if (g < 0) throw InputError(labelMapPath + ": pixel value " + std::to_string(part) + " is not a CelebAMask-HQ part (0..18)");
            acc[g][y][x] = 1.f;
        }
    return out;
}

at::Tensor waterbirdsMasks(const std::string& maskPath, int size) {
    cv::Mat f = publishedMask(maskPath, size, "bird mask");
    at::Tensor bird = torch::from_blob(f.data, {size, size}, torch::kFloat32).clone();
    return torch::stack({1 - bird, bird});
}

at::Tensor attentionEvalImage(const std::string& imagePath, int size, const std::vector<double>& mean, const std::vector<double>& stdv) {
    TransformOptions o;
    o.size = size;
    o.squareResize = true;
    o.channelMean = mean;
    o.channelStd = stdv;
    at::Tensor out = torch::empty({3, size, size});
    evalTransform(io::loadRgbImage(imagePath), o, out.data_ptr<float>());
    return out;
}

}  // namespace biasscope::data
