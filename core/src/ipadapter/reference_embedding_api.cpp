// Public entry points of ips/image_prompt.h that need the engine.
#include "image/image_io.h"
#include "io/json_file.h"
#include "ipadapter/image_embedding.h"
#include "ips/errors.h"
#include "ips/image_prompt.h"

namespace ips {

void save_reference_embedding(const std::filesystem::path& image, const std::filesystem::path& encoder_folder, CropMode crop,
                              const std::filesystem::path& output, bool overwrite) {
    std::error_code ec;
    if (!overwrite && std::filesystem::exists(output, ec))
        throw InputError(io::display_path(output) + ": already exists (choose another name or allow overwriting)");
    const Image rgb = image::read_image_rgb(image);
    auto encoder = ipadapter::ImageEncoder::load(encoder_folder, {});
    const auto embedding = encoder.encode(rgb, crop);
    ipadapter::save_image_embedding(output, embedding,
                                    {{"source_image", io::display_path(image.filename())},
                                     {"image_encoder", io::display_path(encoder_folder)},
                                     {"crop", std::string(crop_mode_name(crop))}},
                                    overwrite);
}

}  // namespace ips
