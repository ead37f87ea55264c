// safetensors reading and writing: round trip of every dtype, metadata, zero-copy views, fixtures.
#include <QtTest>

#include <algorithm>
#include <cstdio>
#include <atomic>
#include <fstream>
#include <iterator>
#include <thread>
#include <vector>

#include <ATen/ATen.h>

#include "io/atomic_file.h"
#include "io/mapped_file.h"
#include "io/safetensors.h"
#include "ips/errors.h"
#include "io/weights.h"
#include "test_paths.h"

using namespace ips::io;
using ipstest::dataPath;

namespace {

// Resident kilobytes of the mapping holding `address` (/proc/self/smaps), -1 when none does.
long residentKb(const void* address) {
    std::ifstream smaps("/proc/self/smaps");
    std::string line;
    bool inside = false;
    const auto a = reinterpret_cast<std::uintptr_t>(address);
    while (std::getline(smaps, line)) {
        unsigned long begin = 0, end = 0;
        if (std::sscanf(line.c_str(), "%lx-%lx ", &begin, &end) == 2) {  // a mapping's first line
            inside = a >= begin && a < end;
            continue;
        }
        if (inside && line.rfind("Rss:", 0) == 0) return std::stol(line.substr(4));
    }
    return -1;
}

}  // namespace

class TestSafetensors : public QObject {
    Q_OBJECT
    QTemporaryDir dir;
    std::filesystem::path scratch(const char* name) { return std::filesystem::path(dir.path().toStdString()) / name; }

private Q_SLOTS:
    void roundTripEveryDtype() {
        const auto base = at::arange(-6, 6, at::kDouble).reshape({3, 4});
        std::map<std::string, at::Tensor> tensors = {
            {"f64", base * 1.5},
            {"f32", (base * 0.25).to(at::kFloat)},
            {"f16", (base * 0.5).to(at::kHalf)},
            {"bf16", (base * 2).to(at::kBFloat16)},
            {"i64", (base * 1e9).to(at::kLong)},
            {"i32", (base * 1000).to(at::kInt)},
            {"i16", (base * 100).to(at::kShort)},
            {"i8", base.to(at::kChar)},
            {"u8", (base + 6).to(at::kByte)},
            {"bool", base.gt(0)},
            {"scalar", at::scalar_tensor(3.5, at::kFloat)},
            {"empty", at::empty({0, 7}, at::kFloat)},
            {"strided", base.to(at::kFloat).t()},  // non-contiguous input is written contiguously
        };
        const auto path = scratch("all.safetensors");
        save_safetensors(path, tensors, {{"format", "pt"}, {"note", "caf\xC3\xA9"}});
        const auto loaded = load_weights(path);
        QCOMPARE(loaded.format, WeightsFormat::Safetensors);
        QCOMPARE(loaded.tensors.size(), tensors.size());
        for (const auto& [name, expected] : tensors) {
            const auto& got = loaded.tensors.at(name);
            QCOMPARE(got.scalar_type(), expected.scalar_type());
            QCOMPARE(got.sizes().vec(), expected.sizes().vec());
            QVERIFY2(at::equal(got, expected), name.c_str());
        }
        QCOMPARE(loaded.metadata.at("note"), std::string("caf\xC3\xA9"));
        QCOMPARE(loaded.metadata.at("format"), std::string("pt"));
    }

    void headerIsAlignedAndByteExact() {
        // Independent check of the layout: little-endian length, JSON, data at the recorded offsets.
        const auto t = at::tensor({1.0f, 2.0f, 3.0f});
        const auto path = scratch("layout.safetensors");
        save_safetensors(path, {{"x", t}});
        const std::string bytes = ipstest::readBytes(path);
        std::uint64_t len = 0;
        for (int i = 7; i >= 0; --i) len = (len << 8) | static_cast<unsigned char>(bytes[i]);
        QCOMPARE((8 + len) % 8, std::uint64_t(0));
        QCOMPARE(bytes.size(), 8 + len + 12);
        float values[3];
        std::memcpy(values, bytes.data() + 8 + len, sizeof values);
        QCOMPARE(values[0], 1.0f);
        QCOMPARE(values[2], 3.0f);
    }

    void tensorsViewTheMappingWithoutCopy() {
        const auto file = SafetensorsFile::open(dataPath("tiny-sd15/unet/diffusion_pytorch_model.safetensors"));
        const auto* entry = file.find("conv_in.weight");
        QVERIFY(entry != nullptr);
        const auto t = tensor_from_entry(file, *entry);
        const auto* begin = file.mapping()->data();
        const auto* p = static_cast<const std::uint8_t*>(t.data_ptr());
        QVERIFY(p >= begin && p < begin + file.mapping()->size());
        QCOMPARE(t.sizes().vec(), (std::vector<std::int64_t>{32, 4, 3, 3}));
    }

    // Converted weights hand the file's pages back (io::MappedFile::release_pages): the mapping's resident
    // size falls, the bytes still read the same (from the file again), and heap memory is never touched.
    void releasedPagesLeaveTheResidentSet() {
        const auto values = at::arange(0, 4 << 20, at::kFloat);  // 16 MB
        save_safetensors(scratch("big.safetensors"), {{"w", values}});
        const Weights w = load_weights(scratch("big.safetensors"));
        const at::Tensor view = w.tensors.at("w");
        QVERIFY(at::equal(view, values));  // every page read: resident
        const auto* data = static_cast<const std::uint8_t*>(view.data_ptr());
        QVERIFY(residentKb(data) >= 16 * 1024 - 8);
        MappedFile::release_pages(data, view.nbytes());
        QVERIFY2(residentKb(data) <= 8, qPrintable(QString::number(residentKb(data))));
        QVERIFY(at::equal(view, values));
        at::Tensor heap = values.clone();
        MappedFile::release_pages(heap.data_ptr(), heap.nbytes());
        QVERIFY(at::equal(heap, values));
    }

    void writingIsAtomicAndReplaces() {
        const auto path = scratch("replace.safetensors");
        save_safetensors(path, {{"a", at::ones({2})}});
        save_safetensors(path, {{"b", at::zeros({3})}});
        const auto loaded = load_weights(path);
        QCOMPARE(loaded.tensors.count("a"), std::size_t(0));
        QCOMPARE(loaded.tensors.at("b").numel(), 3);
        // No temporary file is left beside it.
        int files = 0;
        for (const auto& e : std::filesystem::directory_iterator(path.parent_path()))
            if (e.path().filename().string().rfind("replace.safetensors", 0) == 0) ++files;
        QCOMPARE(files, 1);
    }

    // Keep: an existing file is never replaced, even by writers racing for the same new name (the check
    // and the rename are one step): exactly one wins, the file holds its whole content, no temporary is left.
    void keepingRefusesExistingFiles() {
        const auto path = scratch("keep.safetensors");
        save_safetensors(path, {{"a", at::ones({2})}}, {}, ips::io::ExistingFile::Keep);
        const auto msg = ipstest::inputErrorOf([&] { save_safetensors(path, {{"b", at::zeros({3})}}, {}, ips::io::ExistingFile::Keep); });
        QVERIFY2(msg.find("keep.safetensors: already exists") != std::string::npos, msg.c_str());
        QCOMPARE(load_weights(path).tensors.count("a"), std::size_t(1));

        const auto raced = scratch("raced.txt");
        std::atomic<int> won{0}, refused{0};
        std::vector<std::thread> writers;
        for (int w = 0; w < 8; ++w)
            writers.emplace_back([&, w] {
                try {
                    ips::io::write_file_atomically(raced, [&](std::ostream& out) { out << std::string(100000, char('a' + w)); },
                                                   ips::io::ExistingFile::Keep);
                    ++won;
                } catch (const ips::InputError&) {
                    ++refused;
                }
            });
        for (auto& t : writers) t.join();
        QCOMPARE(won.load(), 1);
        QCOMPARE(refused.load(), 7);
        std::ifstream in(raced, std::ios::binary);
        const std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        QCOMPARE(content.size(), std::size_t(100000));
        QCOMPARE(std::count(content.begin(), content.end(), content.front()), std::ptrdiff_t(100000));
        int files = 0;
        for (const auto& e : std::filesystem::directory_iterator(raced.parent_path()))
            if (e.path().filename().string().rfind("raced.txt", 0) == 0) ++files;
        QCOMPARE(files, 1);
    }

    void writeIntoMissingFolderFails() {
        QVERIFY_THROWS_EXCEPTION(ips::InputError, save_safetensors(scratch("no/such/dir/x.safetensors"), {{"a", at::ones({1})}}));
    }

    void metadataOfFixture() {
        const auto file = SafetensorsFile::open(dataPath("tiny-ip-adapter/ip-adapter_sd15.safetensors"));
        QCOMPARE(file.metadata().at("format"), std::string("pt"));
        QCOMPARE(file.tensors().size(), std::size_t(36));
    }
};

QTEST_GUILESS_MAIN(TestSafetensors)
#include "test_safetensors.moc"
