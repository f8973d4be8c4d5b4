#include "io/CocoAnnotations.h"

#include <fstream>

#include <nlohmann/json.hpp>

#include "common/Error.h"
#include "io/JsonFile.h"

namespace biasscope::io {

const AnnotatedImage* CocoAnnotations::find(const std::string& fileName) const {
    auto it = byOriginalName.find(fileName);
    return it == byOriginalName.end() ? nullptr : &it->second;
}

std::string originalNameFromRoboflow(const std::string& name) {
    const auto rf = name.find(".rf.");
    if (rf == std::string::npos) return name;
    std::string stem = name.substr(0, rf);  // "boy1_google_jpg"
    const auto us = stem.rfind('_');
    if (us == std::string::npos) return stem;
    return stem.substr(0, us) + "." + stem.substr(us + 1);
}

CocoAnnotations readCocoAnnotations(const std::string& path) {
    const nlohmann::json j = readJsonFile(path, "annotation file");
    if (!j.is_object() || !j.contains("images") || !j["images"].is_array())
        throw Error(path + ": not a COCO annotation file (no \"images\" array)");
    CocoAnnotations coco;
    coco.source = path;
    std::map<long long, std::string> idToName;
    std::size_t i = 0;
    for (const auto& im : j["images"]) {
        const std::string w = path + ": images[" + std::to_string(i++) + "]";
        AnnotatedImage a;
        a.cocoFileName = jsonString(im, "file_name", w);
        a.originalName = a.cocoFileName;
        if (im.contains("extra") && im["extra"].is_object() && im["extra"].contains("name"))
            a.originalName = jsonString(im["extra"], "name", w + ".extra");
        else
            a.originalName = originalNameFromRoboflow(a.cocoFileName);
        a.width = static_cast<int>(jsonInt(im, "width", w, 1, 100000));
        a.height = static_cast<int>(jsonInt(im, "height", w, 1, 100000));
        const long long id = jsonInt(im, "id", w, -(1LL << 53), 1LL << 53);
        if (coco.byOriginalName.count(a.originalName)) throw Error(path + ": image '" + a.originalName + "' is listed twice");
        if (idToName.count(id)) throw Error(w + ": id " + std::to_string(id) + " is used twice");
        idToName[id] = a.originalName;
        coco.byOriginalName[a.originalName] = std::move(a);
    }
    if (j.contains("annotations")) {
        if (!j["annotations"].is_array()) throw Error(path + ": \"annotations\" must be an array, found " + jsonShort(j["annotations"]));
        std::size_t n = 0;
        for (const auto& an : j["annotations"]) {
            const std::string w = path + ": annotations[" + std::to_string(n++) + "]";
            const long long id = jsonInt(an, "image_id", w, -(1LL << 53), 1LL << 53);
            auto it = idToName.find(id);
            if (it == idToName.end()) throw Error(w + ": refers to unknown image_id " + std::to_string(id));
            if (!an.contains("segmentation") || !an["segmentation"].is_array())
                throw Error(w + ": no polygon segmentation (RLE is not supported)");
            for (const auto& poly : an["segmentation"]) {
                if (!poly.is_array()) throw Error(w + ": a polygon must be a list of coordinates, found " + jsonShort(poly));
                Polygon p;
                for (const auto& x : poly) {
                    if (!x.is_number()) throw Error(w + ": polygon coordinate " + jsonShort(x) + " of image '" + it->second + "' is not a number");
                    p.xy.push_back(x.get<double>());
                }
                if (p.xy.size() < 6 || p.xy.size() % 2 != 0)
                    throw Error(path + ": a polygon of image '" + it->second + "' has " + std::to_string(p.xy.size()) + " coordinates (needs an even number >= 6)");
                coco.byOriginalName[it->second].polygons.push_back(std::move(p));
            }
        }
    }
    return coco;
}

}  // namespace biasscope::io
