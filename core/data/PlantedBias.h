#pragma once
// A planted-bias benchmark in the spirit of Waterbirds: the class is a foreground object (a circle or a
// striped triangle; random size, place and rotation; a random colour pulled towards its class's colour by
// colourCue), the "place" is the background (land: green-brown blotches; water: blue waves), and in the
// training split the place agrees with the class with probability `bias` (0.5 = no bias, 1.0 = full);
// a share of training images (plainShare) sits on a plain grey background instead. Validation and test are balanced (place
// independent of class), as in Waterbirds. Deterministic from the seed.
//
// Written to <out>/ in the group-DRO Waterbirds layout plus what our pipelines read:
//   metadata.csv           img_filename, y (0 circle, 1 triangle), place (0 land, 1 water), split (0/1/2)
//   <class>/<stem>.png     images;  <class>/mask/<stem>.png  exact object masks (0/255)
//   annotations.json       COCO polygons of every object (feathering reads them)
//   class.csv, place.csv   path,label,split for training a class head and a place ("concept") head
//   test/<class>/          the test images once more, per class, as image sets for a study
#include <cstdint>
#include <string>

namespace biasscope::data {

struct PlantedBiasOptions {
    double bias = 0.95;
    int trainPerClass = 600, valPerClass = 60, testPerClass = 60;
    int size = 64;
    std::uint64_t seed = 1;
    // share of training images on a plain (neutral grey) background: no place, class balanced. They make
    // the context-removed condition (objects feathered onto grey) part of the training distribution.
    double plainShare = 0.0;
    // pull of the object's random colour towards its class's colour (triangle red, circle yellow):
    // colour = (1 - colourCue) * random + colourCue * class colour. 0 = colour says nothing about the class
    double colourCue = 0.0;
};

struct PlantedBiasSummary {
    int train = 0, val = 0, test = 0;
    int trainAligned = 0;  // training images whose place agrees with the class (plain ones excluded)
    int trainPlain = 0;    // training images on the plain background
};

extern const char* const kPlantedClasses[2];  // "circle", "triangle"
extern const char* const kPlantedPlaces[2];   // "land", "water"

PlantedBiasSummary writePlantedBiasDataset(const std::string& outDir, const PlantedBiasOptions& options);

}  // namespace biasscope::data
