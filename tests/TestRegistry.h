#pragma once
// Registration of Qt Test classes in a shared test executable, and tensor comparison helpers.
#include <QObject>
#include <QString>
#include <cstdlib>
#include <functional>
#include <map>
#include <string>

#include <ATen/core/Tensor.h>

namespace biasscope::test {

using Factory = std::function<QObject*()>;
inline std::map<std::string, Factory>& registry() {
    static std::map<std::string, Factory> r;
    return r;
}
struct Registrar {
    Registrar(const char* name, Factory f) { registry()[name] = std::move(f); }
};

// max |a - b| / (atol + rtol * max|b|) <= 1, with a readable report on failure
QString compareTensors(const at::Tensor& actual, const at::Tensor& expected, double rtol, double atol);

// The device named by the test executable's --device option (default "cpu"; also BIASSCOPE_TEST_DEVICE).
inline std::string& deviceName() {
    static std::string d = [] {
        const char* e = std::getenv("BIASSCOPE_TEST_DEVICE");
        return std::string(e && *e ? e : "cpu");
    }();
    return d;
}

inline std::string dataPath(const std::string& rel) { return std::string(BIASSCOPE_TEST_DATA) + "/" + rel; }
inline std::string sharedPath(const std::string& rel) { return std::string(BIASSCOPE_SHARED_DATA) + "/" + rel; }

}  // namespace biasscope::test

#define BIASSCOPE_REGISTER_TEST(Class) static biasscope::test::Registrar registrar_##Class(#Class, [] { return new Class; });

#define BIASSCOPE_COMPARE_TENSORS(actual, expected, rtol, atol)                                  \
    do {                                                                                          \
        const QString msg_ = biasscope::test::compareTensors((actual), (expected), (rtol), (atol)); \
        if (!msg_.isEmpty()) QFAIL(qPrintable(msg_));                                             \
    } while (0)
