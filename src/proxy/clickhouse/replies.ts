// The `static` fallback for ClickHouse reads: an empty result in the format
// the query asked for (see format.ts), shaped like what ClickHouse itself
// sends for `SELECT ... WHERE 0 FORMAT X`, minus what we cannot know: the
// columns. So JSON keeps its document structure with `"meta": []`, and the
// header lines of the *WithNames / *WithNamesAndTypes text formats are left
// out (an empty body), since those lines are nothing but column names/types.
//
// Bodies and content types were checked against the Debian ClickHouse 18.16
// here (test/proxy/clickhouse/conformance.test.ts does it on every run) for
// every format 18.16 knows; 18.16 sends no X-ClickHouse-Format header, so
// none is needed here either. Formats only newer versions have (JSONStrings,
// JSONCompactEachRow, ...) use the current ClickHouse content type of that
// format (from its FormatFactory registrations). Where versions disagree the
// 18.16 value is used: JSONEachRow is `text/plain; charset=UTF-8` on 18.16 but
// `application/x-ndjson; charset=UTF-8` on current versions; clients (incl.
// @clickhouse/client) do not look at it.
//
// Everything is built once at module load: emptyResult() returns the same
// frozen object (and Buffer) every time. Callers must not write into `body`.
//
// Not supported (undefined → the caller falls through to the next fallback):
// formats whose empty output needs a schema or settings we do not have
// (Parquet, Arrow, ORC, Avro, Protobuf, CapnProto, Template, CustomSeparated,
// RowBinaryWithNames*, JSONCompact*EachRowWithNames*, *WithProgress except
// JSONEachRowWithProgress, Markdown, ...), and unknown names.

import { normalizeFormatName } from './format.js';

export interface EmptyResult {
  /** Content-Type header value, as ClickHouse sends it for this format. */
  contentType: string;
  /** The whole response body. Shared: never modify it. */
  body: Buffer;
  /** Canonical format name. */
  format: string;
}

const CT_JSON = 'application/json; charset=UTF-8';
const CT_NDJSON = 'application/x-ndjson; charset=UTF-8';
const CT_TEXT = 'text/plain; charset=UTF-8';
const CT_TSV = 'text/tab-separated-values; charset=UTF-8';
const CT_CSV = 'text/csv; charset=UTF-8; header=absent';
const CT_CSV_HEADER = 'text/csv; charset=UTF-8; header=present';
const CT_BINARY = 'application/octet-stream';
const CT_XML = 'application/xml; charset=UTF-8';

const STATISTICS = '\t"statistics":\n\t{\n\t\t"elapsed": 0,\n\t\t"rows_read": 0,\n\t\t"bytes_read": 0\n\t}\n';

/** JSON / JSONCompact / JSONStrings / JSONCompactStrings: ClickHouse's layout, no columns, no rows. */
const JSON_DOCUMENT = `{\n\t"meta":\n\t[\n\t],\n\n\t"data":\n\t[\n\n\t],\n\n\t"rows": 0,\n\n${STATISTICS}}\n`;

/** JSONColumnsWithMetadata: like JSON, but `data` is an object of columns. */
const JSON_COLUMNS_WITH_METADATA = `{\n\t"meta":\n\t[\n\t],\n\n\t"data":\n\t{\n\t},\n\n\t"rows": 0,\n\n${STATISTICS}}\n`;

const XML_DOCUMENT =
  "<?xml version='1.0' encoding='UTF-8' ?>\n<result>\n\t<meta>\n\t\t<columns>\n\t\t</columns>\n\t</meta>\n" +
  '\t<data>\n\t</data>\n\t<rows>0</rows>\n\t<statistics>\n\t\t<elapsed>0</elapsed>\n' +
  '\t\t<rows_read>0</rows_read>\n\t\t<bytes_read>0</bytes_read>\n\t</statistics>\n</result>\n';

const EMPTY = Buffer.alloc(0);

// [canonical format, content type, body]
const TABLE: ReadonlyArray<readonly [string, string, string]> = [
  // JSON documents
  ['JSON', CT_JSON, JSON_DOCUMENT],
  ['JSONCompact', CT_JSON, JSON_DOCUMENT],
  ['JSONStrings', CT_JSON, JSON_DOCUMENT],
  ['JSONCompactStrings', CT_JSON, JSON_DOCUMENT],
  ['JSONColumnsWithMetadata', CT_JSON, JSON_COLUMNS_WITH_METADATA],
  ['JSONColumns', CT_JSON, '{\n}\n'],
  ['JSONCompactColumns', CT_JSON, '[\n]\n'],
  ['JSONObjectEachRow', CT_JSON, '{\n}\n'],
  // JSON lines: no rows = no lines
  ['JSONEachRow', CT_TEXT, ''],
  ['JSONStringsEachRow', CT_NDJSON, ''],
  ['PrettyJSONEachRow', CT_NDJSON, ''],
  ['JSONEachRowWithProgress', CT_NDJSON, ''],
  ['JSONCompactEachRow', CT_TEXT, ''],
  ['JSONCompactStringsEachRow', CT_TEXT, ''],
  // tab-separated (header lines = column info: left out)
  ['TabSeparated', CT_TSV, ''],
  ['TabSeparatedRaw', CT_TSV, ''],
  ['TabSeparatedWithNames', CT_TSV, ''],
  ['TabSeparatedWithNamesAndTypes', CT_TSV, ''],
  ['TabSeparatedRawWithNames', CT_TSV, ''],
  ['TabSeparatedRawWithNamesAndTypes', CT_TSV, ''],
  ['TSKV', CT_TSV, ''],
  // CSV
  ['CSV', CT_CSV, ''],
  ['CSVWithNames', CT_CSV_HEADER, ''],
  ['CSVWithNamesAndTypes', CT_CSV_HEADER, ''],
  // binary
  ['RowBinary', CT_BINARY, ''],
  ['Native', CT_BINARY, ''],
  // human-readable: nothing at all for no rows
  ['Null', CT_TEXT, ''],
  ['Pretty', CT_TEXT, ''],
  ['PrettyNoEscapes', CT_TEXT, ''],
  ['PrettyMonoBlock', CT_TEXT, ''],
  ['PrettyNoEscapesMonoBlock', CT_TEXT, ''],
  ['PrettyCompact', CT_TEXT, ''],
  ['PrettyCompactNoEscapes', CT_TEXT, ''],
  ['PrettyCompactMonoBlock', CT_TEXT, ''],
  ['PrettyCompactNoEscapesMonoBlock', CT_TEXT, ''],
  ['PrettySpace', CT_TEXT, ''],
  ['PrettySpaceNoEscapes', CT_TEXT, ''],
  ['PrettySpaceMonoBlock', CT_TEXT, ''],
  ['PrettySpaceNoEscapesMonoBlock', CT_TEXT, ''],
  ['Values', CT_TEXT, ''],
  ['Vertical', CT_TEXT, ''],
  ['XML', CT_XML, XML_DOCUMENT],
];

const RESULTS = new Map<string, EmptyResult>();
for (const [format, contentType, text] of TABLE) {
  const body = text === '' ? EMPTY : Buffer.from(text, 'utf8');
  RESULTS.set(format, Object.freeze({ contentType, body, format }));
}

/** Canonical names of every format emptyResult() answers for. */
export const EMPTY_RESULT_FORMATS: readonly string[] = Object.freeze(TABLE.map((row) => row[0]));

/**
 * An empty result in `format` (canonical name, alias or any case), or
 * undefined when we cannot produce one: the caller then falls through to the
 * next fallback. Allocation-free for canonical names.
 */
export function emptyResult(format: string): EmptyResult | undefined {
  return RESULTS.get(format) ?? RESULTS.get(normalizeFormatName(format));
}
