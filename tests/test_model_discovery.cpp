// Finding models already on disk: a fake Hugging Face hub cache and fake ComfyUI / AUTOMATIC1111 trees
// built from the fixtures, with broken and foreign files mixed in.
#include <QtTest>

#include <cstdlib>
#include <fstream>

#include "ips/errors.h"
#include "ips/model_discovery.h"
#include "test_paths.h"

namespace fs = std::filesystem;
using ipstest::dataPath;

namespace {

void copyInto(const fs::path& from, const fs::path& to) {
    fs::create_directories(to.parent_path());
    fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
}

// The hub stores files as blobs named by hash; snapshots hold relative symlinks to them.
void hubFile(const fs::path& repo, const std::string& revision, const std::string& relative, const fs::path& source,
             const std::string& blob) {
    fs::create_directories(repo / "blobs");
    fs::copy_file(source, repo / "blobs" / blob, fs::copy_options::overwrite_existing);
    const fs::path link = repo / "snapshots" / revision / relative;
    fs::create_directories(link.parent_path());
    // From the link's folder up to the repo: one ".." per folder inside the snapshot, then REV and snapshots.
    fs::path up = "../..";
    const fs::path folders = fs::path(relative).parent_path();
    for ([[maybe_unused]] const auto& part : folders) up /= "..";
    fs::create_symlink(up / "blobs" / blob, link);
}

const ips::DiscoveredModel* find(const std::vector<ips::DiscoveredModel>& all, const std::string& tail) {
    for (const auto& m : all) {
        const std::string p = m.path.generic_string();
        if (p.size() >= tail.size() && p.compare(p.size() - tail.size(), tail.size(), tail) == 0) return &m;
    }
    return nullptr;
}

struct EnvGuard {
    std::vector<std::pair<std::string, std::optional<std::string>>> saved;
    void set(const char* name, const char* value) {
        const char* old = std::getenv(name);
        saved.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
        if (value) ::setenv(name, value, 1);
        else ::unsetenv(name);
    }
    ~EnvGuard() {
        for (auto it = saved.rbegin(); it != saved.rend(); ++it) {
            if (it->second) ::setenv(it->first.c_str(), it->second->c_str(), 1);
            else ::unsetenv(it->first.c_str());
        }
    }
};

}  // namespace

class TestModelDiscovery : public QObject {
    Q_OBJECT
    QTemporaryDir scratch;
    fs::path root() const { return fs::u8path(scratch.path().toStdString()); }

private Q_SLOTS:
    void hubCacheLocationFollowsEnvironment() {
        EnvGuard env;
        env.set("HF_HUB_CACHE", nullptr);
        env.set("HF_HOME", nullptr);
        env.set("XDG_CACHE_HOME", nullptr);
        env.set("HOME", "/home/artist");
        QCOMPARE(ips::huggingface_hub_cache(), fs::path("/home/artist/.cache/huggingface/hub"));
        env.set("XDG_CACHE_HOME", "/xdg");
        QCOMPARE(ips::huggingface_hub_cache(), fs::path("/xdg/huggingface/hub"));
        env.set("HF_HOME", "/data/hf");
        QCOMPARE(ips::huggingface_hub_cache(), fs::path("/data/hf/hub"));
        env.set("HF_HUB_CACHE", "/fast/hub");
        QCOMPARE(ips::huggingface_hub_cache(), fs::path("/fast/hub"));
    }

    void hubCache() {
        const fs::path hub = root() / "hub";
        const fs::path ip = hub / "models--h94--IP-Adapter";
        hubFile(ip, "0123abc", "models/ip-adapter_sd15.safetensors", dataPath("tiny-ip-adapter/ip-adapter_sd15.safetensors"), "b1");
        hubFile(ip, "0123abc", "models/ip-adapter-plus_sd15.bin", dataPath("tiny-ip-adapter/ip-adapter-plus_sd15.bin"), "b2");
        hubFile(ip, "0123abc", "models/image_encoder/config.json", dataPath("tiny-ip-adapter/image_encoder/config.json"), "b3");
        for (const auto& e : fs::directory_iterator(dataPath("tiny-ip-adapter/image_encoder")))
            if (e.path().filename() != "config.json")
                hubFile(ip, "0123abc", "models/image_encoder/" + e.path().filename().string(), e.path(), "b4" + e.path().filename().string());
        // A download the hub left half-done: truncated weights.
        std::ifstream in(dataPath("tiny-ip-adapter/ip-adapter_sd15.safetensors"), std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(in)), {});
        fs::create_directories(root() / "src");
        ipstest::writeBytes(root() / "src" / "cut.safetensors", bytes.substr(0, bytes.size() / 2));
        hubFile(ip, "0123abc", "models/ip-adapter-light_sd15.safetensors", root() / "src" / "cut.safetensors", "b5");
        // A whole diffusers pipeline in another repo.
        copyInto(dataPath("tiny-sd15"), hub / "models--stable-diffusion-v1-5--stable-diffusion-v1-5" / "snapshots" / "feed42");

        const auto found = ips::discover_hub_cache(hub);
        const auto* base = find(found, "models/ip-adapter_sd15.safetensors");
        QVERIFY(base);
        QCOMPARE(base->kind, ips::ModelKind::IpAdapter);
        QCOMPARE(base->variant, std::string("base"));
        QCOMPARE(base->repo, std::string("h94/IP-Adapter"));
        QCOMPARE(base->revision, std::string("0123abc"));
        QCOMPARE(base->source, std::string("Hugging Face cache"));
        QCOMPARE(base->size_bytes, std::uint64_t(fs::file_size(dataPath("tiny-ip-adapter/ip-adapter_sd15.safetensors"))));
        QVERIFY(base->problem.empty());
        const auto* plus = find(found, "models/ip-adapter-plus_sd15.bin");
        QVERIFY(plus);
        QCOMPARE(plus->variant, std::string("plus"));
        const auto* encoder = find(found, "models/image_encoder");
        QVERIFY(encoder);
        QCOMPARE(encoder->kind, ips::ModelKind::ImageEncoder);
        const auto* cut = find(found, "ip-adapter-light_sd15.safetensors");
        QVERIFY(cut);
        QVERIFY2(!cut->problem.empty(), "a truncated file must carry its reason");
        QVERIFY(cut->problem.find("ip-adapter-light_sd15.safetensors") != std::string::npos);
        const auto* pipeline = find(found, "snapshots/feed42");
        QVERIFY(pipeline);
        QCOMPARE(pipeline->kind, ips::ModelKind::DiffusersPipeline);
        QCOMPARE(pipeline->repo, std::string("stable-diffusion-v1-5/stable-diffusion-v1-5"));
        // The pipeline is one entry: its components are not listed again.
        QVERIFY(!find(found, "feed42/unet"));
        QVERIFY(ips::discover_hub_cache(root() / "no-such-cache").empty());
    }

    void comfyUiTree() {
        const fs::path comfy = root() / "ComfyUI";
        copyInto(dataPath("tiny-sd15-single.safetensors"), comfy / "models/checkpoints/tiny.safetensors");
        copyInto(dataPath("tiny-ip-adapter/ip-adapter-full-face_sd15.safetensors"), comfy / "models/ipadapter/full-face.safetensors");
        copyInto(dataPath("tiny-controlnet/diffusion_pytorch_model.safetensors"), comfy / "models/controlnet/canny.safetensors");
        copyInto(dataPath("tiny-ip-adapter/image_encoder"), comfy / "models/clip_vision/vit-h");
        fs::create_directories(comfy / "models/loras");
        ipstest::writeBytes(comfy / "models/loras/notes.safetensors", "this is a text file, not weights");
        ipstest::writeBytes(comfy / "models/ipadapter/readme.txt", "not a weights extension: skipped");
        // Code and outputs outside models/ are not scanned.
        copyInto(dataPath("tiny-controlnet/diffusion_pytorch_model.safetensors"), comfy / "output/stray.safetensors");
        fs::create_directories(comfy / "comfy");

        QCOMPARE(ips::installation_kind(comfy), std::string("ComfyUI"));
        const auto found = ips::discover_model_folder(comfy);
        QCOMPARE(found.size(), std::size_t(5));
        const auto* ckpt = find(found, "checkpoints/tiny.safetensors");
        QVERIFY(ckpt);
        QCOMPARE(ckpt->kind, ips::ModelKind::SingleFileCheckpoint);
        QCOMPARE(ckpt->source, std::string("ComfyUI"));
        QCOMPARE(find(found, "ipadapter/full-face.safetensors")->variant, std::string("full-face"));
        QCOMPARE(find(found, "controlnet/canny.safetensors")->kind, ips::ModelKind::ControlNet);
        QCOMPARE(find(found, "clip_vision/vit-h")->kind, ips::ModelKind::ImageEncoder);
        const auto* text = find(found, "loras/notes.safetensors");
        QVERIFY(text);
        QCOMPARE(text->kind, ips::ModelKind::Unknown);
        QVERIFY(text->problem.find("notes.safetensors") != std::string::npos);
        QVERIFY(!find(found, "stray.safetensors"));
    }

    void automatic1111TreeWithUnicodePath() {
        const fs::path a1111 = root() / fs::u8path("stable-diffusion-webui-ü");
        copyInto(dataPath("tiny-sd15-single.safetensors"), a1111 / fs::u8path("models/Stable-diffusion/モデル.safetensors"));
        copyInto(dataPath("tiny-controlnet"), a1111 / "extensions/sd-webui-controlnet/models/control_canny");
        ipstest::writeBytes(a1111 / "webui.py", "# launcher");
        QCOMPARE(ips::installation_kind(a1111), std::string("AUTOMATIC1111"));
        const auto found = ips::discover_model_folder(a1111);
        QCOMPARE(found.size(), std::size_t(2));
        QCOMPARE(find(found, "モデル.safetensors")->kind, ips::ModelKind::SingleFileCheckpoint);
        QCOMPARE(find(found, "control_canny")->kind, ips::ModelKind::ControlNet);
        QCOMPARE(find(found, "control_canny")->source, std::string("AUTOMATIC1111"));
    }

    void invokeAiTree() {
        const fs::path invoke = root() / "invokeai";
        copyInto(dataPath("tiny-sd15"), invoke / "models/sd-1/main/tiny-sd15");
        copyInto(dataPath("tiny-ip-adapter/ip-adapter_sd15.safetensors"), invoke / "models/sd-1/ip_adapter/ip.safetensors");
        ipstest::writeBytes(invoke / "invokeai.yaml", "schema_version: 4.0.2\n");
        QCOMPARE(ips::installation_kind(invoke), std::string("InvokeAI"));
        const auto found = ips::discover_model_folder(invoke);
        QCOMPARE(found.size(), std::size_t(2));
        QCOMPARE(find(found, "main/tiny-sd15")->kind, ips::ModelKind::DiffusersPipeline);
        QCOMPARE(find(found, "main/tiny-sd15")->source, std::string("InvokeAI"));
        QCOMPARE(find(found, "ip_adapter/ip.safetensors")->kind, ips::ModelKind::IpAdapter);
    }

    void plainFolderAndBadRoot() {
        const fs::path folder = root() / "mine";
        copyInto(dataPath("tiny-ip-adapter/ip-adapter_sd15.bin"), folder / "a/b/ip.bin");
        fs::create_directories(folder / "loop");
        fs::create_directory_symlink(folder, folder / "loop" / "back");  // must not walk forever
        const auto found = ips::discover_model_folder(folder);
        QCOMPARE(found.size(), std::size_t(1));
        QCOMPARE(found[0].source, std::string("folder"));
        QCOMPARE(found[0].kind, ips::ModelKind::IpAdapter);
        try {
            ips::discover_model_folder(folder / "missing");
            QFAIL("a missing folder must be refused");
        } catch (const ips::InputError& e) {
            QVERIFY(std::string(e.what()).find("missing") != std::string::npos);
        }
    }
};

QTEST_GUILESS_MAIN(TestModelDiscovery)
#include "test_model_discovery.moc"
