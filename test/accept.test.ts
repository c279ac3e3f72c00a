import { describe, expect, it } from "vitest";
import { accepts } from "../src/accept";

const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";

describe("accepts", () => {
  it.each([
    // [Accept, media type, admitted]
    [`${DOCKER_V2}, ${OCI_MANIFEST}`, OCI_MANIFEST, true],
    [`${DOCKER_V2}, ${OCI_MANIFEST}`, OCI_INDEX, false],
    [`${DOCKER_V2},${DOCKER_LIST}`, DOCKER_LIST, true],
    [DOCKER_V2.toUpperCase(), DOCKER_V2, true],
    [DOCKER_V2, `${DOCKER_V2.toUpperCase()}; charset=utf-8`, true],
    // Parameters on the range, q > 0
    [`${OCI_INDEX}; q=0.5`, OCI_INDEX, true],
    [`${OCI_INDEX};q=1`, OCI_INDEX, true],
    [`${OCI_INDEX} ; foo=bar`, OCI_INDEX, true],
    // q=0 means "not acceptable" (RFC 9110 §12.4.2), in any spelling of zero
    [`${OCI_INDEX};q=0`, OCI_INDEX, false],
    [`${OCI_INDEX}; q=0.0`, OCI_INDEX, false],
    [`${OCI_INDEX}; Q=0.000`, OCI_INDEX, false],
    [`${OCI_INDEX};q=0.001`, OCI_INDEX, true],
    [`${OCI_INDEX};q=0, ${OCI_MANIFEST}`, OCI_MANIFEST, true],
    // Wildcards
    ["*/*", OCI_INDEX, true],
    ["application/*", OCI_INDEX, true],
    ["text/*", OCI_INDEX, false],
    ["*/*;q=0", OCI_INDEX, false],
    [`${DOCKER_V2}, */*`, OCI_INDEX, true],
    // Near misses
    ["application/vnd.oci.image.index.v1", OCI_INDEX, false],
    ["application/vnd.oci.image.index.v1+json+x", OCI_INDEX, false],
    ["application", OCI_INDEX, false],
  ])("%j admits %s: %s", (accept, mediaType, admitted) => {
    expect(accepts(accept, mediaType)).toBe(admitted);
  });

  it.each([null, ""])("admits nothing in particular without an Accept (%j)", (accept) => {
    expect(accepts(accept, OCI_MANIFEST)).toBe(false);
    expect(accepts(accept, DOCKER_V2)).toBe(false);
  });

  it.each([
    // RFC 9110 §12.5.1: "the most specific reference has precedence". A client that lists a type
    // with q=0 refuses it, even when a wildcard would cover it.
    [`*/*, ${OCI_INDEX};q=0`, OCI_INDEX],
    [`application/*, ${DOCKER_LIST};q=0`, DOCKER_LIST],
    [`${OCI_INDEX};q=0, */*`, OCI_INDEX],
  ])("lets a specific q=0 override a wildcard: %j refuses %s", (accept, mediaType) => {
    expect(accepts(accept, mediaType)).toBe(false);
  });
});
