#pragma once
// The pixel boxes of a detection run as COCO-style JSON (--pixel-boxes): one image, its
// categories, one annotation per detection in raster pixels (oriented boxes add rbox, instance
// masks add an uncompressed RLE segmentation). Written to a temporary beside the target and put in
// place by commit(), as every product.
#include <luojia/products/detection.hpp>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace luojia::detail {

// What the header says of the image: shards carry it (LUOJIA_PIXEL_IMAGE) for luojia-merge.
struct CocoImage {
  std::string file_name;
  std::int64_t width = 0, height = 0;
  std::vector<std::string> categories;
  bool oriented = false;
  std::string to_json() const;
  static CocoImage from_json(const std::string& text);  // throws Error on a malformed text
};

class CocoBoxes {
public:
  // Checks the target (check_output_path) and opens the temporary.
  CocoBoxes(const std::string& target, const CocoImage& image, bool overwrite);
  ~CocoBoxes();  // an uncommitted temporary is removed
  CocoBoxes(const CocoBoxes&) = delete;
  CocoBoxes& operator=(const CocoBoxes&) = delete;

  void add(const Detection& d);  // d in raster pixels
  void finish();                 // closes the JSON (throws on a write error)
  void commit();                 // renames it into place

private:
  std::string target_, temp_;
  CocoImage image_;
  std::ofstream out_;
  std::int64_t count_ = 0;
  bool committed_ = false;
};

}  // namespace luojia::detail
