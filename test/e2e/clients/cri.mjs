// A minimal Kubernetes CRI client: ImageService.PullImage over containerd's gRPC socket, as the kubelet calls it (Debian 12 packages no crictl), with gRPC framed by hand over node:http2.
import { connect as http2Connect, constants } from "node:http2";
import { connect as netConnect } from "node:net";

/** CRI v1 (k8s.io/cri-api pkg/apis/runtime/v1/api.proto); containerd 1.6 serves it. */
const IMAGE_SERVICE = "/runtime.v1.ImageService";

/**
 * @typedef {object} CriAuth  AuthConfig fields 1 and 2 (what the kubelet sends from an image pull secret)
 * @property {string} username
 * @property {string} password
 */

/**
 * `ImageService.PullImage`: containerd pulls `image` with the registry configuration of its CRI
 * plugin (hosts.toml under config_path). Resolves to the image reference it reports (the image ID).
 * @param {string} socket  containerd's gRPC socket
 * @param {string} image  e.g. docker.io/library/alpine:3
 * @param {{ auth?: CriAuth, timeoutMs?: number }} [options]
 * @returns {Promise<string>}
 */
export async function criPullImage(socket, image, { auth, timeoutMs = 120_000 } = {}) {
  // PullImageRequest { ImageSpec image = 1; AuthConfig auth = 2; } ImageSpec { string image = 1; }
  const request = Buffer.concat([
    message(1, text(1, image)),
    auth
      ? message(2, Buffer.concat([text(1, auth.username), text(2, auth.password)]))
      : Buffer.alloc(0),
  ]);
  const response = await unaryCall(socket, `${IMAGE_SERVICE}/PullImage`, request, timeoutMs);
  // PullImageResponse { string image_ref = 1; }
  return readStrings(response).get(1)?.[0] ?? "";
}

/**
 * One unary gRPC call: a length-prefixed message out, one back, the status in the trailers.
 * @param {string} socket
 * @param {string} path  /package.Service/Method
 * @param {Buffer} body  the serialised request message
 * @param {number} timeoutMs
 * @returns {Promise<Buffer>} the serialised response message
 */
function unaryCall(socket, path, body, timeoutMs) {
  return new Promise((resolve, reject) => {
    const session = http2Connect("http://localhost", {
      createConnection: () => netConnect(socket),
    });
    const fail = (/** @type {Error} */ error) => {
      session.destroy();
      reject(error);
    };
    session.once("error", fail);
    const frame = Buffer.alloc(5);
    frame.writeUInt32BE(body.length, 1);
    const stream = session.request({
      [constants.HTTP2_HEADER_METHOD]: "POST",
      [constants.HTTP2_HEADER_PATH]: path,
      "content-type": "application/grpc",
      te: "trailers",
      "grpc-timeout": `${timeoutMs}m`,
    });
    stream.setTimeout(timeoutMs, () => fail(new Error(`${path}: no answer in ${timeoutMs} ms`)));
    /** @type {Buffer[]} */
    const chunks = [];
    /** @type {Record<string, unknown>} */
    let status = {};
    stream.on("response", (headers) => (status = { ...headers }));
    stream.on("trailers", (trailers) => (status = { ...status, ...trailers }));
    stream.on("data", (chunk) => chunks.push(chunk));
    stream.once("error", fail);
    stream.once("end", () => {
      session.close();
      const code = Number(status["grpc-status"] ?? -1);
      if (code !== 0) {
        const detail = decodeURIComponent(String(status["grpc-message"] ?? ""));
        reject(new Error(`${path}: gRPC status ${code}: ${detail}`));
        return;
      }
      const data = Buffer.concat(chunks);
      resolve(data.subarray(5, 5 + data.readUInt32BE(1)));
    });
    stream.end(Buffer.concat([frame, body]));
  });
}

/** @param {number} value */
function varint(value) {
  const bytes = [];
  for (let left = value; ; left = Math.floor(left / 128)) {
    if (left < 128) {
      bytes.push(left);
      return Buffer.from(bytes);
    }
    bytes.push(left % 128 | 128);
  }
}

/**
 * A length-delimited field (wire type 2): a nested message.
 * @param {number} field
 * @param {Buffer} bytes
 */
function message(field, bytes) {
  return Buffer.concat([varint((field << 3) | 2), varint(bytes.length), bytes]);
}

/**
 * A string field.
 * @param {number} field
 * @param {string} value
 */
function text(field, value) {
  return message(field, Buffer.from(value, "utf8"));
}

/**
 * The length-delimited fields of a message, as UTF-8 strings, by field number (other wire
 * types are skipped).
 * @param {Buffer} bytes
 * @returns {Map<number, string[]>}
 */
function readStrings(bytes) {
  /** @type {Map<number, string[]>} */
  const fields = new Map();
  let offset = 0;
  const readVarint = () => {
    let value = 0;
    for (let shift = 1; ; shift *= 128) {
      const byte = bytes[offset++] ?? 0;
      value += (byte & 127) * shift;
      if (byte < 128) return value;
    }
  };
  while (offset < bytes.length) {
    const key = readVarint();
    const [field, wire] = [Math.floor(key / 8), key % 8];
    if (wire === 2) {
      const length = readVarint();
      const value = bytes.subarray(offset, offset + length).toString("utf8");
      offset += length;
      fields.set(field, [...(fields.get(field) ?? []), value]);
    } else if (wire === 0) readVarint();
    else if (wire === 1) offset += 8;
    else if (wire === 5) offset += 4;
    else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
  return fields;
}
