// docker.cloudsmith.io through the proxy, against its replica (registries.md §12: every fact
// unknown; the replica is a plain distribution registry, see test/replicas/cloudsmith.ts).
import { registrySuite } from "./suite";
import { cloudsmith } from "../replicas/cloudsmith";

registrySuite("docker.cloudsmith.io", (world) => cloudsmith(world));
