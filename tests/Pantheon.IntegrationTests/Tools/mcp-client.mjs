// A client nobody here wrote: the official MCP TypeScript SDK over Streamable HTTP. Lists the tools, calls list_files and
// screenshot, checks the PNG (signature, IHDR size, every chunk's CRC) and prints one JSON line of what it found.
//   MCP_SDK_DIR=... node mcp-client.mjs URL SECRET
import { pathToFileURL } from "node:url";
import { inflateSync } from "node:zlib";

const sdk = process.env.MCP_SDK_DIR;
const { Client } = await import(pathToFileURL(`${sdk}/dist/esm/client/index.js`).href);
const { StreamableHTTPClientTransport } = await import(pathToFileURL(`${sdk}/dist/esm/client/streamableHttp.js`).href);
const [url, secret] = process.argv.slice(2);

const client = new Client({ name: "sdk-test-client", version: "1.0.0" });
const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${secret}` } } });
await client.connect(transport);

const { tools } = await client.listTools();
const files = await client.callTool({ name: "list_files", arguments: { path: "" } });
if (files.isError) throw new Error(`list_files failed: ${JSON.stringify(files.content)}`);
const listing = JSON.parse(files.content.find(c => c.type === "text").text);

const shot = await client.callTool({ name: "screenshot", arguments: {} });
if (shot.isError) throw new Error(`screenshot failed: ${JSON.stringify(shot.content)}`);
const image = shot.content.find(c => c.type === "image");
const png = Buffer.from(image.data, "base64");
const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
if (!png.subarray(0, 8).equals(signature)) throw new Error("not a PNG signature");

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc = bytes => {
  let c = 0xffffffff;
  for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};
let offset = 8, width = 0, height = 0;
const idat = [];
while (offset < png.length) {
  const length = png.readUInt32BE(offset);
  const type = png.subarray(offset + 4, offset + 8).toString("ascii");
  const data = png.subarray(offset + 8, offset + 8 + length);
  if (crc(png.subarray(offset + 4, offset + 8 + length)) !== png.readUInt32BE(offset + 8 + length)) throw new Error(`bad CRC in ${type}`);
  if (type === "IHDR") { width = data.readUInt32BE(0); height = data.readUInt32BE(4); }
  if (type === "IDAT") idat.push(data);
  offset += 12 + length;
}
const pixels = inflateSync(Buffer.concat(idat));
if (pixels.length !== height * (1 + width * 3)) throw new Error(`image data of ${pixels.length} bytes for ${width}x${height}`);

console.log(JSON.stringify({
  tools: tools.map(t => t.name).sort(),
  files: listing.entries.map(e => e.name),
  mimeType: image.mimeType, width, height, bytes: png.length,
}));
await client.close();
