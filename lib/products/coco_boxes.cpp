// COCO-style pixel boxes, shared by luojia-detect and luojia-merge (detection shards).
#include "products/coco_boxes.hpp"

#include <luojia/error.hpp>
#include <luojia/io/raster_writer.hpp>

#include "io/file_names.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numbers>

namespace luojia::detail {

std::string CocoImage::to_json() const {
  return nlohmann::json{{"file_name", file_name}, {"width", width}, {"height", height}, {"categories", categories}, {"oriented", oriented}}
      .dump();
}

CocoImage CocoImage::from_json(const std::string& text) {
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    CocoImage image;
    image.file_name = j.at("file_name").get<std::string>();
    image.width = j.at("width").get<std::int64_t>();
    image.height = j.at("height").get<std::int64_t>();
    image.categories = j.at("categories").get<std::vector<std::string>>();
    image.oriented = j.at("oriented").get<bool>();
    return image;
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("malformed pixel-box image description: ") + e.what());
  }
}

CocoBoxes::CocoBoxes(const std::string& target, const CocoImage& image, bool overwrite) : target_(target), image_(image) {
  check_output_path(target, overwrite);
  temp_ = temporary_path(target, "json");
  out_.open(temp_, std::ios::binary);
  if (!out_) raise("cannot write " + temp_, ErrorContext{target, {}, {}, {}});
  const nlohmann::json header = {{"id", 1}, {"file_name", image.file_name}, {"width", image.width}, {"height", image.height}};
  nlohmann::json categories = nlohmann::json::array();
  for (std::size_t k = 0; k < image.categories.size(); ++k) categories.push_back({{"id", k}, {"name", image.categories[k]}});
  out_ << "{\"images\": [" << header.dump() << "],\n\"categories\": " << categories.dump() << ",\n\"annotations\": [";
}

CocoBoxes::~CocoBoxes() {
  if (out_.is_open()) out_.close();
  if (!committed_) {
    std::error_code ec;
    std::filesystem::remove(temp_, ec);
  }
}

void CocoBoxes::add(const Detection& d) {
  double x0 = INFINITY, y0 = INFINITY, x1 = -INFINITY, y1 = -INFINITY;
  for (const auto& [x, y] : d.corners()) {
    x0 = std::min(x0, x);
    y0 = std::min(y0, y);
    x1 = std::max(x1, x);
    y1 = std::max(y1, y);
  }
  nlohmann::json a = {{"id", count_ + 1}, {"image_id", 1},          {"category_id", d.class_id}, {"bbox", {x0, y0, x1 - x0, y1 - y0}},
                      {"area", d.width * d.height}, {"score", d.score}, {"iscrowd", 0}};
  if (image_.oriented) a["rbox"] = {d.cx, d.cy, d.width, d.height, d.angle * 180.0 / std::numbers::pi};
  if (d.mask) {
    // COCO's uncompressed RLE (pycocotools' frPyObjects takes it as it is).
    a["segmentation"] = {{"size", {image_.height, image_.width}}, {"counts", d.mask->coco_counts(image_.width, image_.height)}};
    a["area"] = d.mask->pixels();
  }
  out_ << (count_ ? ",\n" : "\n") << a.dump();
  ++count_;
}

void CocoBoxes::finish() {
  if (!out_.is_open()) return;
  out_ << "\n]}\n";
  out_.close();
  if (!out_) raise("cannot write the pixel boxes", ErrorContext{target_, {}, {}, {}});
}

void CocoBoxes::commit() {
  finish();
  std::error_code ec;
  std::filesystem::rename(temp_, target_, ec);
  if (ec) raise("cannot move the pixel boxes into place: " + ec.message(), ErrorContext{target_, {}, {}, {}});
  committed_ = true;
}

}  // namespace luojia::detail
