#pragma once
// Sub-commands of biasscope-cli; each registers its options and runs the core.
#include <CLI/CLI.hpp>

namespace biasscope::cli {

void addLrpCommand(CLI::App& app);
void addMakeDemoCommand(CLI::App& app);
void addFeatherCommand(CLI::App& app);
void addPublishedCommand(CLI::App& app);
void addStudyCommand(CLI::App& app);
void addFigureCommand(CLI::App& app);
void addTrainCommand(CLI::App& app);
void addDemoCommand(CLI::App& app);
void addAiouCommand(CLI::App& app);
void addFaithfulnessCommand(CLI::App& app);

}  // namespace biasscope::cli
