// kubeconform knows the Kubernetes API's own kinds; custom resources (PodMonitor,
// PrometheusRule) need their CRD's schema as a JSON schema file. This writes one per CRD
// version, strict like the API's (`additionalProperties: false` wherever the CRD lists the
// properties and does not keep unknown fields), in the layout
// <dir>/<group>/<kind lowercased>_<version>.json.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';

type Schema = Record<string, any>;

function strict(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(strict);
  if (node === null || typeof node !== 'object') return node;
  const out: Schema = {};
  for (const [k, v] of Object.entries(node)) out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v as Schema).map(([p, s]) => [p, strict(s)])) : strict(v);
  if (out.properties && out.additionalProperties === undefined && !out['x-kubernetes-preserve-unknown-fields']) out.additionalProperties = false;
  return out;
}

/** Writes the schemas of every CRD in crdDir into outDir; returns the kubeconform -schema-location template. */
export async function writeCrdSchemas(crdDir: string, outDir: string): Promise<string> {
  for (const file of (await readdir(crdDir)).filter((f) => f.endsWith('.yaml'))) {
    const crd = parse(await readFile(path.join(crdDir, file), 'utf8')) as Schema;
    const group: string = crd.spec.group;
    const kind: string = crd.spec.names.kind;
    await mkdir(path.join(outDir, group), { recursive: true });
    for (const v of crd.spec.versions as Schema[]) {
      const schema = v.schema?.openAPIV3Schema;
      if (!schema) continue;
      await writeFile(path.join(outDir, group, `${kind.toLowerCase()}_${v.name}.json`), JSON.stringify(strict(schema)));
    }
  }
  return path.join(outDir, '{{ .Group }}', '{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json');
}
