// Detection building blocks against independent references: torchvision's box_iou, batched_nms
// and nms, shapely's polygon IoU (tests/data/detection, from tools/make_detection_references.py),
// and closed forms for the decoders.
#include <luojia/products/detection.hpp>
#include <luojia/error.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>

using namespace luojia;

namespace {

nlohmann::json reference() {
  std::ifstream in(LUOJIA_TEST_DATA "/detection/nms_reference.json");
  return nlohmann::json::parse(in);
}

std::vector<Detection> boxes_of(const nlohmann::json& list) {
  std::vector<Detection> out;
  for (const auto& b : list) {
    Detection d;
    d.cx = b[0];
    d.cy = b[1];
    d.width = b[2];
    d.height = b[3];
    d.score = b[4];
    d.class_id = b[5];
    out.push_back(d);
  }
  return out;
}

}  // namespace

TEST_CASE("box IoU equals torchvision's, and shapely's for rotated boxes", "[detect][nms]") {
  const auto ref = reference();
  const auto boxes = boxes_of(ref["boxes"]);
  const auto& iou = ref["iou"];
  for (std::size_t i = 0; i < 40; ++i)
    for (std::size_t j = 0; j < 40; ++j) CHECK(box_iou(boxes[i], boxes[j]) == Approx(iou[i * 40 + j].get<double>()).margin(1e-6));
  std::vector<Detection> oriented;
  for (const auto& b : ref["oriented"]["boxes"]) {
    Detection d;
    d.cx = b[0];
    d.cy = b[1];
    d.width = b[2];
    d.height = b[3];
    d.angle = b[4];
    oriented.push_back(d);
  }
  const auto& polygon_iou = ref["oriented"]["iou"];
  const std::size_t n = oriented.size();
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) CHECK(box_iou(oriented[i], oriented[j]) == Approx(polygon_iou[i * n + j].get<double>()).margin(1e-9));

  // Closed form: a unit square and itself turned 45 degrees meet in a regular octagon of area 2(sqrt 2 - 1).
  Detection square;
  square.width = square.height = 1;
  Detection turned = square;
  turned.angle = M_PI / 4;
  const double octagon = 2 * (std::sqrt(2.0) - 1);
  CHECK(box_iou(square, turned) == Approx(octagon / (2 - octagon)).epsilon(1e-12));
  turned.angle = M_PI / 2;  // a square turned a quarter is itself
  CHECK(box_iou(square, turned) == Approx(1.0).epsilon(1e-12));
}

TEST_CASE("greedy NMS keeps what torchvision's batched_nms and nms keep", "[detect][nms]") {
  const auto ref = reference();
  const auto boxes = boxes_of(ref["boxes"]);
  for (const char* threshold : {"0.45", "0.7"}) {
    INFO("IoU threshold " << threshold);
    const auto want = ref["kept"][threshold].get<std::vector<std::size_t>>();
    CHECK(non_maximum_suppression(boxes, std::stod(threshold)) == want);
  }
  CHECK(non_maximum_suppression(boxes, 0.45, true) == ref["kept_agnostic"].get<std::vector<std::size_t>>());
  const auto capped = non_maximum_suppression(boxes, 0.45, false, 10);
  const auto all = ref["kept"]["0.45"].get<std::vector<std::size_t>>();
  CHECK(capped == std::vector<std::size_t>(all.begin(), all.begin() + 10));
}

TEST_CASE("each YOLO output layout decodes to the same boxes", "[detect][decode]") {
  // Three anchors that hold boxes among N = 12, two classes: (cx, cy, w, h), class scores, angle.
  // The other anchors score zero; a real head has thousands, so anchors outnumber values per box.
  constexpr int N = 12;
  const float box[3][4] = {{10, 20, 4, 6}, {30, 40, 8, 2}, {50, 60, 2, 2}};
  const float score[3][2] = {{0.9f, 0.1f}, {0.2f, 0.6f}, {0.1f, 0.2f}};
  const float angle[3] = {0.5f, -0.25f, 0.0f};

  nn::Tensor v8({1, 6, N});  // channels first
  std::fill(v8.data(), v8.data() + v8.size(), 0.0f);
  for (int i = 0; i < 3; ++i) {
    for (int k = 0; k < 4; ++k) v8.data()[k * N + i] = box[i][k];
    for (int c = 0; c < 2; ++c) v8.data()[(4 + c) * N + i] = score[i][c];
  }
  CHECK(detection_layout(v8.shape(), 2, "") == DetectionLayout::Yolo8);
  CHECK(detection_layout(v8.shape(), 0, "YOLO_Ultralytics") == DetectionLayout::Yolo8);
  DecodeOptions o;
  o.classes = 2;  // as the metadata's class names tell; without them (1, N, 7) would read as end-to-end oriented
  o.confidence = 0.5f;
  auto d = decode_detections(v8, o);
  REQUIRE(d.size() == 2);
  CHECK(d[0].class_id == 0);
  CHECK(d[0].score == 0.9f);
  CHECK(d[0].cx == 10);
  CHECK(d[0].height == 6);
  CHECK(d[1].class_id == 1);
  CHECK(d[1].score == 0.6f);

  nn::Tensor v5({1, N, 7});  // rows, with objectness 0.5: confidence = 0.5 x class score
  std::fill(v5.data(), v5.data() + v5.size(), 0.0f);
  for (int i = 0; i < 3; ++i) {
    for (int k = 0; k < 4; ++k) v5.data()[i * 7 + k] = box[i][k];
    v5.data()[i * 7 + 4] = 0.5f;
    for (int c = 0; c < 2; ++c) v5.data()[i * 7 + 5 + c] = score[i][c];
  }
  CHECK(detection_layout(v5.shape(), 2, "") == DetectionLayout::Yolo5);
  o.confidence = 0.35f;  // 0.5 x 0.9 passes, 0.5 x 0.6 does not
  d = decode_detections(v5, o);
  REQUIRE(d.size() == 1);
  CHECK(d[0].score == Approx(0.45f));
  CHECK(d[0].cx == 10);

  nn::Tensor obb({1, 7, N});
  std::fill(obb.data(), obb.data() + obb.size(), 0.0f);
  for (int i = 0; i < 3; ++i) {
    for (int k = 0; k < 4; ++k) obb.data()[k * N + i] = box[i][k];
    for (int c = 0; c < 2; ++c) obb.data()[(4 + c) * N + i] = score[i][c];
    obb.data()[6 * N + i] = angle[i];
  }
  CHECK(detection_layout(obb.shape(), 2, "") == DetectionLayout::Oriented);
  CHECK(detection_layout(obb.shape(), 0, "YOLO_Ultralytics_obb") == DetectionLayout::Oriented);
  o.confidence = 0.5f;
  d = decode_detections(obb, o);
  REQUIRE(d.size() == 2);
  CHECK(d[1].angle == -0.25f);

  nn::Tensor e2e({1, 10, 6});  // x1, y1, x2, y2, score, class; unused rows are zero
  e2e.data()[0] = 8, e2e.data()[1] = 17, e2e.data()[2] = 12, e2e.data()[3] = 23, e2e.data()[4] = 0.8f, e2e.data()[5] = 1;
  for (std::size_t i = 6; i < 60; ++i) e2e.data()[i] = 0;
  CHECK(detection_layout(e2e.shape(), 0, "") == DetectionLayout::EndToEnd);
  d = decode_detections(e2e, o);
  REQUIRE(d.size() == 1);
  CHECK(d[0].cx == 10);
  CHECK(d[0].cy == 20);
  CHECK(d[0].width == 4);
  CHECK(d[0].height == 6);
  CHECK(d[0].class_id == 1);

  // Filters: classes, minimum size.
  o.keep_classes = {1};
  CHECK(decode_detections(v8, o).size() == 1);
  o.keep_classes.clear();
  o.min_size = 3;
  CHECK(decode_detections(v8, o).size() == 1);  // the 8 x 2 box is too thin

  // Shapes that fit no layout, and metadata that contradicts the shape.
  CHECK_THROWS_AS(detection_layout({1, 4, 100}, 0, ""), ModelError);
  CHECK_THROWS_WITH(detection_layout({1, 9, 100}, 2, ""), Catch::Contains("fits no detection layout for 2 classes"));
  CHECK_THROWS_WITH(detection_layout({1, 100, 6}, 0, "YOLO_v6"), Catch::Contains("not a layout luojia decodes"));
  CHECK_THROWS_AS(detection_layout({2, 6, 100}, 0, ""), ModelError);
  CHECK_THROWS_AS(parse_detection_layout("yolo3"), UsageError);
  CHECK(parse_detection_layout("End2End") == DetectionLayout::EndToEnd);
}

TEST_CASE("box corners turn clockwise on screen with the angle", "[detect]") {
  Detection d;
  d.cx = 10;
  d.cy = 10;
  d.width = 4;
  d.height = 2;
  d.angle = M_PI / 2;  // the width now runs down the screen (y grows downwards)
  const auto c = d.corners();
  // The corner that was top-left (-2, -1) is now at (+1, -2) from the centre.
  CHECK(c[0][0] == Approx(11.0));
  CHECK(c[0][1] == Approx(8.0));
  CHECK(c[2][0] == Approx(9.0));
  CHECK(c[2][1] == Approx(12.0));
}

TEST_CASE("boxes of equal score are suppressed in anchor order, whatever order they arrive in", "[detect][nms]") {
  // Three overlapping boxes of one class and one score: the lowest anchor number wins, as it does
  // in a whole-image run's output order, even when a tile delivers it last.
  std::vector<Detection> boxes(3);
  for (std::size_t i = 0; i < boxes.size(); ++i) {
    boxes[i].score = 0.75f;
    boxes[i].cx = 10.0 + static_cast<double>(i);
    boxes[i].cy = 10.0;
    boxes[i].width = boxes[i].height = 8.0;
  }
  boxes[0].anchor = 907;
  boxes[1].anchor = 12;
  boxes[2].anchor = 455;
  const auto kept = non_maximum_suppression(boxes, 0.3);
  REQUIRE(kept.size() == 1);
  CHECK(boxes[kept[0]].anchor == 12);
  CHECK(ranks_before(boxes[1], boxes[2]));
  CHECK_FALSE(ranks_before(boxes[2], boxes[1]));
  boxes[2].score = 0.76f;  // a higher score still comes first
  CHECK(boxes[non_maximum_suppression(boxes, 0.3).at(0)].anchor == 455);
  // Without anchors (-1), ties keep their order, as torchvision's stable sort does.
  for (auto& b : boxes) {
    b.anchor = -1;
    b.score = 0.5f;
  }
  CHECK(non_maximum_suppression(boxes, 0.3).at(0) == 0);
}
