#pragma once
// Reads the golden cases of tests/data/golden/manifest.json (or another folder of tests/data holding a
// manifest.json in the same format, e.g. golden_wide): their tensors and tolerances.
#include <map>
#include <string>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

namespace ipstest {

struct GoldenCase {
    nlohmann::json spec;                        // the manifest entry
    std::string folder = "golden";              // the manifest's folder, relative to tests/data
    std::map<std::string, at::Tensor> tensors;  // every tensor of the case file, by key

    at::Tensor input(const std::string& name) const;   // inputs.<name>.key
    at::Tensor output(const std::string& name) const;  // outputs.<name>.key
    double atol(const std::string& name) const;        // outputs.<name>.atol
    bool hasInput(const std::string& name) const;
    bool hasOutput(const std::string& name) const;
};

GoldenCase loadGolden(const std::string& id, const std::string& folder = "golden");

// max |a - b| (as double), or +inf when shapes differ or either has NaN.
double maxAbsDiff(const at::Tensor& a, const at::Tensor& b);

}  // namespace ipstest

// Compares a computed tensor with a golden output within the manifest's tolerance.
#define IPS_COMPARE_GOLDEN(golden, name, actual)                                                              \
    do {                                                                                                     \
        const double ips_diff = ipstest::maxAbsDiff((actual), (golden).output(name));                        \
        const double ips_tol = (golden).atol(name);                                                          \
        if (!(ips_diff <= ips_tol))                                                                          \
            QFAIL(qPrintable(QString("%1: max abs diff %2 > atol %3").arg(QString::fromStdString(std::string(name))).arg(ips_diff).arg(ips_tol))); \
    } while (0)
