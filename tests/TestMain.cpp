// Runs one Qt Test class chosen by name (argv[1]); CTest registers each class as its own test.
#include <QCoreApplication>
#include <QtTest/QtTest>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <string>

#include "TestRegistry.h"

int main(int argc, char** argv) {
    QCoreApplication app(argc, argv);
    auto& reg = biasscope::test::registry();
    if (argc < 2 || !reg.count(argv[1])) {
        std::cerr << "usage: " << argv[0] << " <TestClass> [--device cpu|cuda] [QtTest options]\nclasses:";
        for (const auto& [name, f] : reg) std::cerr << " " << name;
        std::cerr << "\n";
        return 2;
    }
    std::unique_ptr<QObject> test(reg.at(argv[1])());
    std::vector<char*> args{argv[0]};
    // --device NAME (cpu, cuda, cuda:1, auto): the device TestDevice compares against the CPU (bench/device-check.sh)
    for (int i = 2; i < argc; ++i) {
        if (std::string(argv[i]) == "--device" && i + 1 < argc) {
            biasscope::test::deviceName() = argv[++i];
            continue;
        }
        args.push_back(argv[i]);
    }
    return QTest::qExec(test.get(), static_cast<int>(args.size()), args.data());
}

#include <torch/types.h>

namespace biasscope::test {
QString compareTensors(const at::Tensor& actual, const at::Tensor& expected, double rtol, double atol) {
    if (actual.sizes() != expected.sizes())
        return QString("shape %1 != expected %2").arg(QString::fromStdString(c10::str(actual.sizes())), QString::fromStdString(c10::str(expected.sizes())));
    const at::Tensor a = actual.to(torch::kCPU).to(torch::kFloat64), b = expected.to(torch::kCPU).to(torch::kFloat64);
    const double scale = b.abs().max().item<double>();
    const double err = (a - b).abs().max().item<double>();
    if (!(err <= atol + rtol * scale))
        return QString("max abs diff %1 exceeds atol %2 + rtol %3 * max|expected| %4").arg(err).arg(atol).arg(rtol).arg(scale);
    return {};
}
}  // namespace biasscope::test
