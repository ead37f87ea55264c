#include "ips/request_json.h"
#include "ips/samplers.h"

#include <cmath>
#include <map>
#include <ostream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "io/atomic_file.h"
#include "io/json_file.h"
#include "lora/lora_hash.h"
#include "ips/errors.h"
#include "ips/ip_adapter_options.h"

namespace ips {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr double kMaxLoraWeight = 10.0;  // A1111 accepts any number; past this a LoRA only makes noise

class Reader {
public:
    Reader(const std::string& source, const fs::path& base) : source_(source), base_(base) {}

    [[noreturn]] void fail(const std::string& field, const std::string& what) const {
        throw InputError(source_ + ": " + field + " " + what);
    }
    void only_keys(const json& object, const std::set<std::string>& allowed, const std::string& where) const {
        for (const auto& [key, value] : object.items())
            if (!allowed.count(key)) fail(where + key, "is not a known field (a typo?)");
    }
    std::string string(const json& o, const std::string& key, const std::string& where, const std::string& fallback) const {
        if (!o.contains(key) || o.at(key).is_null()) return fallback;
        if (!o.at(key).is_string()) fail(where + key, "must be a string");
        return o.at(key).get<std::string>();
    }
    double number(const json& o, const std::string& key, const std::string& where, double fallback) const {
        if (!o.contains(key) || o.at(key).is_null()) return fallback;
        if (!o.at(key).is_number()) fail(where + key, "must be a number");
        const double v = o.at(key).get<double>();
        if (!std::isfinite(v)) fail(where + key, "must be finite");
        return v;
    }
    std::optional<double> optional_number(const json& o, const std::string& key, const std::string& where) const {
        if (!o.contains(key) || o.at(key).is_null()) return std::nullopt;
        return number(o, key, where, 0.0);
    }
    long long integer(const json& o, const std::string& key, const std::string& where, long long fallback) const {
        if (!o.contains(key) || o.at(key).is_null()) return fallback;
        if (!o.at(key).is_number_integer()) fail(where + key, "must be an integer");
        if (o.at(key).is_number_unsigned() && o.at(key).get<unsigned long long>() > 2147483647ULL) fail(where + key, "is too large");
        const long long v = o.at(key).get<long long>();
        if (v < -2147483647LL || v > 2147483647LL) fail(where + key, "is out of range");
        return v;
    }
    fs::path path(const std::string& text) const {
        const fs::path p = fs::u8path(text);
        return p.is_absolute() || text.empty() ? p : base_ / p;
    }
    fs::path path_field(const json& o, const std::string& key, const std::string& where) const {
        const std::string s = string(o, key, where, "");
        return s.empty() ? fs::path() : path(s);
    }
    std::optional<ImageSource> image_field(const json& o, const std::string& key, const std::string& where) const {
        const std::string s = string(o, key, where, "");
        if (s.empty()) return std::nullopt;
        return ImageSource{path(s), nullptr};
    }

private:
    std::string source_;
    fs::path base_;
};

IpAdapterSettings read_ip_adapter(const Reader& r, const json& a, const std::string& where) {
    if (!a.is_object()) r.fail(where, "must be an object");
    r.only_keys(a, {"path", "image_encoder", "images", "image_weights", "negative_image", "scale", "mode", "weight_type",
                   "combine_embeds", "embeds_scaling", "start", "end", "crop", "image_crops", "masks"}, where + ".");
    IpAdapterSettings s;
    // A preset may leave the adapter file and the images to the user; generating checks they are set.
    s.path = r.path_field(a, "path", where + ".");
    s.image_encoder = r.path_field(a, "image_encoder", where + ".");
    if (a.contains("images") && !a.at("images").is_array()) r.fail(where + ".images", "must be a list of image files");
    for (const auto& i : a.value("images", json::array())) {
        // An empty name would be written back as null (no picture): refused here, so reading and writing agree.
        if (!i.is_string() || i.get<std::string>().empty()) r.fail(where + ".images", "must hold file names");
        s.images.push_back({r.path(i.get<std::string>()), nullptr});
    }
    if (a.contains("image_weights") && !a.at("image_weights").is_null()) {
        if (!a.at("image_weights").is_array()) r.fail(where + ".image_weights", "must be a list of numbers");
        for (const auto& w : a.at("image_weights")) {
            if (!w.is_number()) r.fail(where + ".image_weights", "must be a list of numbers");
            s.image_weights.push_back(w.get<double>());
        }
    }
    // diffusers' ip_adapter_masks: one grey picture per image, white where that image applies.
    if (a.contains("masks") && !a.at("masks").is_null()) {
        if (!a.at("masks").is_array()) r.fail(where + ".masks", "must be a list of mask pictures, one per image");
        for (const auto& m : a.at("masks")) {
            if (!m.is_string() || m.get<std::string>().empty()) r.fail(where + ".masks", "must hold file names");
            s.regions.push_back({r.path(m.get<std::string>()), nullptr});
        }
    }
    s.negative_image = r.image_field(a, "negative_image", where + ".");
    if (a.contains("scale") && a.at("scale").is_object()) s.block_scales_json = a.at("scale").dump();
    else s.scale = r.number(a, "scale", where + ".", 1.0);
    // ComfyUI_IPAdapter_plus's controls; "mode" is the older key (full, style, composition).
    const bool old_key = !a.contains("weight_type") && a.contains("mode");
    const std::string type = r.string(a, old_key ? "mode" : "weight_type", where + ".", "linear");
    s.mode = canonical_ip_weight_type(type);
    if (!is_ip_choice(ip_weight_types(), s.mode))
        r.fail(where + (old_key ? ".mode" : ".weight_type"), "must be " + ip_choice_list(ip_weight_types()) + " (got '" + type + "')");
    s.combine_embeds = r.string(a, "combine_embeds", where + ".", "concat");
    if (!is_ip_choice(ip_combine_embeds_modes(), s.combine_embeds))
        r.fail(where + ".combine_embeds", "must be " + ip_choice_list(ip_combine_embeds_modes()) + " (got '" + s.combine_embeds + "')");
    s.embeds_scaling = r.string(a, "embeds_scaling", where + ".", "V only");
    if (!is_ip_choice(ip_embeds_scaling_modes(), s.embeds_scaling))
        r.fail(where + ".embeds_scaling", "must be " + ip_choice_list(ip_embeds_scaling_modes()) + " (got '" + s.embeds_scaling + "')");
    s.start = r.number(a, "start", where + ".", 0.0);
    s.end = r.number(a, "end", where + ".", 1.0);
    const std::string crop = r.string(a, "crop", where + ".", "center");
    const auto mode = parse_crop_mode(crop);
    if (!mode) r.fail(where + ".crop", "must be center, pad or squash (got '" + crop + "')");
    s.crop = *mode;
    if (a.contains("image_crops") && !a.at("image_crops").is_null()) {
        if (!a.at("image_crops").is_array()) r.fail(where + ".image_crops", "must be a list of center, pad or squash");
        for (const auto& c : a.at("image_crops")) {
            const auto m = c.is_string() ? parse_crop_mode(c.get<std::string>()) : std::nullopt;
            if (!m) r.fail(where + ".image_crops", "must be a list of center, pad or squash");
            s.image_crops.push_back(*m);
        }
    }
    return s;
}

ControlNetSettings read_controlnet(const Reader& r, const json& c, const std::string& where) {
    if (!c.is_object()) r.fail(where, "must be an object");
    r.only_keys(c, {"path", "image", "conditioning_scale", "start", "end"}, where + ".");
    ControlNetSettings s;
    s.path = r.path_field(c, "path", where + ".");
    if (s.path.empty()) r.fail(where + ".path", "is required");
    // A preset keeps a unit without its map (null); generating needs one (validate_request says so).
    if (const auto image = r.image_field(c, "image", where + ".")) s.image = *image;
    s.conditioning_scale = r.number(c, "conditioning_scale", where + ".", 1.0);
    s.start = r.number(c, "start", where + ".", 0.0);
    s.end = r.number(c, "end", where + ".", 1.0);
    return s;
}

LoraSettings read_lora(const Reader& r, const json& l, const std::string& where) {
    if (!l.is_object()) r.fail(where, "must be an object {\"path\": ..., \"weight\": ...}");
    r.only_keys(l, {"path", "weight"}, where + ".");
    LoraSettings s;
    s.path = r.path_field(l, "path", where + ".");
    if (s.path.empty()) r.fail(where + ".path", "is required");
    s.weight = r.number(l, "weight", where + ".", 1.0);
    if (std::abs(s.weight) > kMaxLoraWeight)
        r.fail(where + ".weight", "is out of range (" + std::to_string(s.weight) + "; expected -10 to 10)");
    return s;
}

EmbeddingSettings read_embedding(const Reader& r, const json& e, const std::string& where) {
    if (!e.is_object()) r.fail(where, "must be an object {\"path\": ..., \"token\": ...}");
    r.only_keys(e, {"path", "token"}, where + ".");
    EmbeddingSettings s;
    s.path = r.path_field(e, "path", where + ".");
    if (s.path.empty()) r.fail(where + ".path", "is required");
    if (e.contains("token") && !e.at("token").is_null()) s.token = r.string(e, "token", where + ".", "");
    return s;
}

std::string relative_text(const fs::path& p, const fs::path& base) {
    if (p.empty()) return "";
    std::error_code ec;
    const fs::path abs_p = fs::weakly_canonical(p, ec), abs_base = fs::weakly_canonical(base, ec);
    const fs::path rel = abs_p.lexically_relative(abs_base);
    if (!base.empty() && !rel.empty() && rel.begin()->u8string() != u8"..") return io::display_path(rel);
    return io::display_path(p);
}

nlohmann::ordered_json image_json(const std::optional<ImageSource>& s, const fs::path& base, const std::string& field) {
    if (!s || s->empty()) return nullptr;
    if (s->path.empty()) throw InputError(field + ": an image held in memory cannot be written to a request file; save it first");
    return relative_text(s->path, base);
}

std::string format_number(double v) {
    std::ostringstream s;
    s << v;
    return s.str();
}

}  // namespace

std::string ImageSource::describe() const { return path.empty() ? "an image in memory" : io::display_path(path); }

GenerationRequest parse_request_json(const std::string& text, const fs::path& base_dir, const std::string& source) {
    json j;
    try {
        j = json::parse(text);
    } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers beyond a double (found by fuzzing)
        throw InputError(source + ": not valid JSON (" + e.what() + ")");
    }
    if (!j.is_object()) throw InputError(source + ": expected a JSON object with the generation settings");
    const Reader r(source, base_dir);
    r.only_keys(j, {"schema", "model", "vae", "prompt", "negative_prompt", "width", "height", "num_inference_steps", "guidance_scale",
                    "seed", "scheduler", "timestep_spacing", "clip_skip", "prompt_syntax", "num_images_per_prompt", "dtype", "eta", "ip_adapters", "controlnets",
                    "loras", "embeddings", "init_image", "strength", "mask_image", "latents", "deep_cache", "draft_decode", "name"},
                "");
    const long long schema = r.integer(j, "schema", "", kRequestSchema);
    if (schema > kRequestSchema)
        r.fail("schema", std::to_string(schema) + " is newer than this version understands (" + std::to_string(kRequestSchema) + ")");
    if (schema < 1) r.fail("schema", "must be 1");
    GenerationRequest q;
    q.model = r.path_field(j, "model", "");
    if (j.contains("vae") && !j["vae"].is_null()) q.vae = r.path_field(j, "vae", "");
    q.prompt = r.string(j, "prompt", "", "");
    q.negative_prompt = r.string(j, "negative_prompt", "", "");
    q.width = static_cast<int>(r.integer(j, "width", "", 512));
    q.height = static_cast<int>(r.integer(j, "height", "", 512));
    q.num_inference_steps = static_cast<int>(r.integer(j, "num_inference_steps", "", 30));
    q.guidance_scale = r.number(j, "guidance_scale", "", 7.5);
    if (j.contains("seed") && !j.at("seed").is_null()) {
        if (!j.at("seed").is_number_unsigned()) r.fail("seed", "must be a non-negative integer or null (random)");
        q.seed = j.at("seed").get<std::uint64_t>();
    }
    q.scheduler = r.string(j, "scheduler", "", "ddim");
    q.timestep_spacing = r.string(j, "timestep_spacing", "", "");
    if (j.contains("clip_skip") && !j.at("clip_skip").is_null()) q.clip_skip = static_cast<int>(r.integer(j, "clip_skip", "", 0));
    q.prompt_syntax = r.string(j, "prompt_syntax", "", "plain");
    q.num_images_per_prompt = static_cast<int>(r.integer(j, "num_images_per_prompt", "", 1));
    q.dtype = r.string(j, "dtype", "", "float32");
    q.eta = r.number(j, "eta", "", 0.0);
    for (const char* list : {"ip_adapters", "controlnets", "loras", "embeddings"})
        if (j.contains(list) && !j.at(list).is_null() && !j.at(list).is_array()) r.fail(list, "must be a list");
    if (j.contains("ip_adapters") && j.at("ip_adapters").is_array())
        for (std::size_t i = 0; i < j.at("ip_adapters").size(); ++i)
            q.ip_adapters.push_back(read_ip_adapter(r, j.at("ip_adapters")[i], "ip_adapters[" + std::to_string(i) + "]"));
    if (j.contains("controlnets") && j.at("controlnets").is_array())
        for (std::size_t i = 0; i < j.at("controlnets").size(); ++i)
            q.controlnets.push_back(read_controlnet(r, j.at("controlnets")[i], "controlnets[" + std::to_string(i) + "]"));
    if (j.contains("loras") && j.at("loras").is_array())
        for (std::size_t i = 0; i < j.at("loras").size(); ++i)
            q.loras.push_back(read_lora(r, j.at("loras")[i], "loras[" + std::to_string(i) + "]"));
    if (j.contains("embeddings") && j.at("embeddings").is_array())
        for (std::size_t i = 0; i < j.at("embeddings").size(); ++i)
            q.embeddings.push_back(read_embedding(r, j.at("embeddings")[i], "embeddings[" + std::to_string(i) + "]"));
    q.init_image = r.image_field(j, "init_image", "");
    q.strength = r.optional_number(j, "strength", "");
    q.mask_image = r.image_field(j, "mask_image", "");
    q.latents_file = r.path_field(j, "latents", "");
    if (j.contains("draft_decode") && !j.at("draft_decode").is_null()) {
        if (!j.at("draft_decode").is_boolean()) r.fail("draft_decode", "must be true or false");
        q.draft_decode = j.at("draft_decode").get<bool>();
    }
    if (j.contains("deep_cache") && !j.at("deep_cache").is_null()) {
        const json& d = j.at("deep_cache");
        if (!d.is_object()) r.fail("deep_cache", "must be an object such as {\"interval\": 3, \"branch\": 0} or null");
        r.only_keys(d, {"interval", "branch"}, "deep_cache.");
        DeepCacheSettings cache;
        cache.interval = static_cast<int>(r.integer(d, "interval", "deep_cache.", cache.interval));
        cache.branch = static_cast<int>(r.integer(d, "branch", "deep_cache.", cache.branch));
        q.deep_cache = cache;
    }
    return q;
}

GenerationRequest read_request_file(const fs::path& file) {
    std::string text;
    try {
        text = io::read_text_file(file);
    } catch (const Error& e) {
        throw InputError(e.what());
    }
    return parse_request_json(text, file.parent_path(), io::display_path(file));
}

std::string request_to_json(const GenerationRequest& q, const fs::path& base) {
    nlohmann::ordered_json j;
    j["schema"] = kRequestSchema;
    j["model"] = relative_text(q.model, base);
    if (!q.vae.empty()) j["vae"] = relative_text(q.vae, base);
    j["prompt"] = q.prompt;
    j["negative_prompt"] = q.negative_prompt;
    j["width"] = q.width;
    j["height"] = q.height;
    j["num_inference_steps"] = q.num_inference_steps;
    j["guidance_scale"] = q.guidance_scale;
    j["seed"] = q.seed ? json(*q.seed) : json(nullptr);
    j["scheduler"] = q.scheduler;
    if (!q.timestep_spacing.empty()) j["timestep_spacing"] = q.timestep_spacing;
    j["clip_skip"] = q.clip_skip ? json(*q.clip_skip) : json(nullptr);
    if (q.prompt_syntax != "plain") j["prompt_syntax"] = q.prompt_syntax;  // plain presets stay as they were
    j["num_images_per_prompt"] = q.num_images_per_prompt;
    j["dtype"] = q.dtype;
    if (q.eta != 0.0) j["eta"] = q.eta;
    j["ip_adapters"] = nlohmann::ordered_json::array();
    for (std::size_t i = 0; i < q.ip_adapters.size(); ++i) {
        const auto& a = q.ip_adapters[i];
        const std::string where = "ip_adapters[" + std::to_string(i) + "]";
        nlohmann::ordered_json o;
        o["path"] = a.path.empty() ? json(nullptr) : json(relative_text(a.path, base));
        o["image_encoder"] = a.image_encoder.empty() ? json(nullptr) : json(relative_text(a.image_encoder, base));
        o["images"] = nlohmann::ordered_json::array();
        for (const auto& im : a.images) o["images"].push_back(image_json(im, base, where + ".images"));
        o["image_weights"] = a.image_weights.empty() ? json(nullptr) : json(a.image_weights);
        if (!a.regions.empty()) {
            o["masks"] = nlohmann::ordered_json::array();
            for (const auto& m : a.regions) o["masks"].push_back(image_json(m, base, where + ".masks"));
        }
        o["negative_image"] = image_json(a.negative_image, base, where + ".negative_image");
        o["scale"] = a.block_scales_json.empty() ? nlohmann::ordered_json(a.scale) : nlohmann::ordered_json::parse(a.block_scales_json);
        o["weight_type"] = canonical_ip_weight_type(a.mode);
        o["combine_embeds"] = a.combine_embeds;
        o["embeds_scaling"] = a.embeds_scaling;
        o["start"] = a.start;
        o["end"] = a.end;
        o["crop"] = std::string(crop_mode_name(a.crop));
        if (!a.image_crops.empty()) {
            o["image_crops"] = nlohmann::ordered_json::array();
            for (CropMode c : a.image_crops) o["image_crops"].push_back(std::string(crop_mode_name(c)));
        }
        j["ip_adapters"].push_back(o);
    }
    j["controlnets"] = nlohmann::ordered_json::array();
    for (std::size_t i = 0; i < q.controlnets.size(); ++i) {
        const auto& c = q.controlnets[i];
        nlohmann::ordered_json o;
        o["path"] = relative_text(c.path, base);
        o["image"] = image_json(c.image, base, "controlnets[" + std::to_string(i) + "].image");
        o["conditioning_scale"] = c.conditioning_scale;
        o["start"] = c.start;
        o["end"] = c.end;
        j["controlnets"].push_back(o);
    }
    if (!q.loras.empty()) {
        j["loras"] = nlohmann::ordered_json::array();
        for (const auto& l : q.loras) j["loras"].push_back({{"path", relative_text(l.path, base)}, {"weight", l.weight}});
    }
    if (!q.embeddings.empty()) {
        j["embeddings"] = nlohmann::ordered_json::array();
        for (const auto& e : q.embeddings) {
            nlohmann::ordered_json o{{"path", relative_text(e.path, base)}};
            if (!e.token.empty()) o["token"] = e.token;
            j["embeddings"].push_back(o);
        }
    }
    j["init_image"] = image_json(q.init_image, base, "init_image");
    j["strength"] = q.strength ? json(*q.strength) : json(nullptr);
    j["mask_image"] = image_json(q.mask_image, base, "mask_image");
    if (!q.latents_file.empty()) j["latents"] = relative_text(q.latents_file, base);
    if (q.draft_decode) j["draft_decode"] = true;
    if (q.deep_cache) j["deep_cache"] = {{"interval", q.deep_cache->interval}, {"branch", q.deep_cache->branch}};
    return j.dump(2);
}

void write_request_file(const fs::path& file, const GenerationRequest& q, bool overwrite) {
    const std::string text = request_to_json(q, fs::absolute(file).parent_path()) + "\n";
    try {
        io::write_file_atomically(file, [&](std::ostream& out) { out << text; },
                                  overwrite ? io::ExistingFile::Replace : io::ExistingFile::Keep);
    } catch (const InputError&) {
        throw;  // already names the file
    } catch (const std::exception& e) {
        throw InputError(io::display_path(file) + ": cannot write (" + e.what() + ")");
    }
}

namespace {

// A1111's "Lora hashes" value: "name: hash, ..." (names without ':' and ','), quoted as its infotext quotes
// a value holding ':' (json.dumps, ASCII only). Files that cannot be read are left out, as A1111 does.
std::string lora_hashes_text(const std::vector<LoraSettings>& loras) {
    std::string list;
    for (const auto& l : loras) {
        const std::string hash = lora::lora_short_hash(l.path);
        if (hash.empty()) continue;
        std::string name = io::display_path(l.path.stem());
        std::erase_if(name, [](char c) { return c == ':' || c == ','; });
        list += (list.empty() ? "" : ", ") + name + ": " + hash;
    }
    return list.empty() ? list : nlohmann::json(list).dump(-1, ' ', /*ensure_ascii=*/true);
}

}  // namespace

std::string a1111_parameters(const GenerationRequest& q, std::uint64_t seed) {
    std::ostringstream s;
    s << q.prompt;
    for (const auto& l : q.loras)  // A1111 names LoRAs in the prompt: <lora:file stem:weight>
        s << (q.prompt.empty() ? "" : " ") << "<lora:" << io::display_path(l.path.stem()) << ":" << format_number(l.weight) << ">";
    s << "\n";
    if (!q.negative_prompt.empty()) s << "Negative prompt: " << q.negative_prompt << "\n";
    std::string sampler = q.scheduler;
    for (const auto& choice : sampler_choices())
        if (choice.id == q.scheduler) sampler = choice.label;
    s << "Steps: " << q.num_inference_steps << ", Sampler: " << sampler << ", CFG scale: " << format_number(q.guidance_scale)
      << ", Seed: " << seed << ", Size: " << q.width << "x" << q.height << ", Model: " << io::display_path(q.model.filename());
    if (q.init_image) s << ", Denoising strength: " << format_number(q.strength.value_or(q.mask_image ? 1.0 : 0.8));
    if (q.clip_skip) s << ", Clip skip: " << *q.clip_skip + 1;  // A1111 counts the last layer as 1
    for (const auto& a : q.ip_adapters) {
        const std::string type = canonical_ip_weight_type(a.mode);
        s << ", IP-Adapter: " << io::display_path(a.path.filename()) << " (scale "
          << (a.block_scales_json.empty() ? format_number(a.scale) : std::string("per block"))
          << (type == "linear" ? "" : ", " + type)
          << (a.regions.empty() ? "" : ", " + std::to_string(a.regions.size()) + (a.regions.size() == 1 ? " region" : " regions")) << ")";
    }
    for (const auto& c : q.controlnets)
        s << ", ControlNet: " << io::display_path(c.path.filename()) << " (weight " << format_number(c.conditioning_scale) << ")";
    if (const std::string hashes = lora_hashes_text(q.loras); !hashes.empty()) s << ", Lora hashes: " << hashes;
    s << ", Version: IP Studio";
    return s.str();
}

}  // namespace ips
