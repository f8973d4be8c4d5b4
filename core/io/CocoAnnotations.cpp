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
    try {
        for (const auto& im : j["images"]) {
            AnnotatedImage a;
            a.cocoFileName = im.at("file_name").get<std::string>();
            a.originalName = im.contains("extra") && im["extra"].contains("name") ? im["extra"]["name"].get<std::string>()
                                                                                  : originalNameFromRoboflow(a.cocoFileName);
            a.width = im.at("width").get<int>();
            a.height = im.at("height").get<int>();
            const long long id = im.at("id").get<long long>();
            if (coco.byOriginalName.count(a.originalName))
                throw Error(path + ": image '" + a.originalName + "' is listed twice");
            idToName[id] = a.originalName;
            coco.byOriginalName[a.originalName] = std::move(a);
        }
        if (j.contains("annotations")) {
            for (const auto& an : j["annotations"]) {
                const long long id = an.at("image_id").get<long long>();
                auto it = idToName.find(id);
                if (it == idToName.end())
                    throw Error(path + ": annotation " + an.value("id", nlohmann::json(-1)).dump() + " refers to unknown image_id " + std::to_string(id));
                if (!an.contains("segmentation") || !an["segmentation"].is_array())
                    throw Error(path + ": annotation " + an.value("id", nlohmann::json(-1)).dump() + " has no polygon segmentation (RLE is not supported)");
                for (const auto& poly : an["segmentation"]) {
                    Polygon p;
                    p.xy = poly.get<std::vector<double>>();
                    if (p.xy.size() < 6 || p.xy.size() % 2 != 0)
                        throw Error(path + ": a polygon of image '" + it->second + "' has " + std::to_string(p.xy.size()) + " coordinates (needs an even number >= 6)");
                    coco.byOriginalName[it->second].polygons.push_back(std::move(p));
                }
            }
        }
    } catch (const nlohmann::json::exception& e) {
        throw Error(path + ": malformed COCO entry: " + e.what());
    }
    return coco;
}

}  // namespace biasscope::io
