// Reads a LAS 1.4 file with copc.js's LAS parser (an implementation independent of luojia's
// writer) and prints its header, CRS and the points' count, bounds and means as JSON: a check of
// luojia-stereo's --point-cloud .las against another reader.
//
// Usage (in a scratch folder, npm only; neither the library nor the tests need it):
//   npm install --ignore-scripts copc@0.0.8
//   NODE_PATH=$PWD/node_modules node /path/to/luojia/tools/check_las.js cloud.las
const { Las } = require('copc');
const fs = require('fs');
(async () => {
  const file = fs.readFileSync(process.argv[2]);
  const bytes = new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
  const header = Las.Header.parse(bytes.slice(0, 375));
  const getter = async (begin, end) => bytes.slice(begin, end);
  const vlrs = await Las.Vlr.walk(getter, header);
  const wktVlr = Las.Vlr.at(vlrs, 'LASF_Projection', 2112);
  const wkt = Buffer.from(await Las.Vlr.fetch(getter, wktVlr)).toString('latin1').replace(/\0+$/, '');
  const view = Las.View.create(bytes.slice(header.pointDataOffset), header);
  const gx = view.getter('X'), gy = view.getter('Y'), gz = view.getter('Z'), gr = view.getter('ReturnNumber'), gn = view.getter('NumberOfReturns');
  let sx = 0, sy = 0, sz = 0, min = [Infinity, Infinity, Infinity], max = [-Infinity, -Infinity, -Infinity], bad = 0;
  for (let i = 0; i < view.pointCount; ++i) {
    const p = [gx(i), gy(i), gz(i)];
    sx += p[0]; sy += p[1]; sz += p[2];
    for (let k = 0; k < 3; ++k) { min[k] = Math.min(min[k], p[k]); max[k] = Math.max(max[k], p[k]); }
    if (gr(i) !== 1 || gn(i) !== 1) ++bad;
  }
  const n = view.pointCount;
  console.log(JSON.stringify({version: `${header.majorVersion}.${header.minorVersion}`, format: header.pointDataRecordFormat,
    headerCount: header.pointCount, pointCount: n, headerMin: header.min, headerMax: header.max, min, max,
    mean: [sx / n, sy / n, sz / n], badReturns: bad, wkt: wkt.slice(0, 60), first: [gx(0), gy(0), gz(0)]}));
})();
