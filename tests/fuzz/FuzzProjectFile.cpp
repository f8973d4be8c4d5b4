// libFuzzer: the desktop app's project file (ui/ProjectFile). Read or refused naming the file; a project
// that is read writes back and reads again to the same project.
#include <cstdint>
#include <cstdlib>

#include <QJsonDocument>

#include "FuzzSupport.h"
#include "ProjectFile.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace biasscope;
    const std::string path = fuzz::writeInput("project/p.biasscope.json", data, size);
    fuzz::expectContract([&] {
        const ui::ProjectFile p = ui::readProjectFile(QString::fromStdString(path));
        if (p.tab < 0 || p.tab > ui::kMaxProjectTab || p.attention.size < 16 || p.attention.size > 4096) std::abort();
        const QByteArray again = QJsonDocument(ui::projectToJson(p)).toJson();
        const ui::ProjectFile q = ui::projectFromJson(again, "round trip");
        if (ui::projectToJson(q) != ui::projectToJson(p)) std::abort();
    }, path);
    return 0;
}
