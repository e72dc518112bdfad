/**
 * The MetaTool tool-selection data (/work/shared/data/metatool, see its README): 199 tools, 20,614
 * single-tool queries split into train and test by row, and 497 two-tool queries.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SearchDocument } from '../../packages/core/src/search/tool-index.ts';

const DATA_DIRECTORY = process.env.METATOOL_DATA ?? '/work/shared/data/metatool';

/** A query and the tool(s) that serve it. */
export interface LabeledQuery {
  query: string;
  tools: string[];
}

/** The tools as search documents, and the labeled queries. */
export interface MetaToolData {
  documents: SearchDocument[];
  train: LabeledQuery[];
  test: LabeledQuery[];
  multiTool: LabeledQuery[];
}

/**
 * Loads the benchmark. A tool becomes a document named by its plugin name (its slug, name and
 * toolkit: every MetaTool plugin is an app of its own) with its description and no parameters.
 * CSV rows whose 0-based index is divisible by 5 are the test split.
 */
export function loadMetaTool(): MetaToolData {
  const descriptions = readJson<Record<string, string>>('plugin_des.json');
  const documents = Object.entries(descriptions).map(([name, description]) => ({
    slug: name,
    name,
    description,
    toolkit: name,
    parameters: [],
  }));
  const [header, ...rows] = parseCsv(readFileSync(join(DATA_DIRECTORY, 'all_clean_data.csv'), 'utf8'));
  if (header?.join(',') !== 'Query,Tool') throw new Error(`Unexpected CSV header: ${header?.join(',')}`);
  const queries = rows.map(([query = '', tool = '']) => ({ query, tools: [tool] }));
  const multiTool = readJson<{ query: string; tool: string[] }[]>('multi_tool_query_golden.json').map(
    ({ query, tool }) => ({ query, tools: tool }),
  );
  return {
    documents,
    train: queries.filter((_, index) => index % 5 !== 0),
    test: queries.filter((_, index) => index % 5 === 0),
    multiTool,
  };
}

function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(join(DATA_DIRECTORY, file), 'utf8')) as T;
}

/** RFC 4180 CSV: quoted fields may hold commas, line breaks and doubled quotes. Empty lines are skipped. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let index = 0; index < text.length; index++) {
    const character = text[index];
    if (quoted) {
      if (character !== '"') field += character;
      else if (text[index + 1] === '"') field += text[index++];
      else quoted = false;
    } else if (character === '"') quoted = true;
    else if (character === ',') {
      row.push(field);
      field = '';
    } else if (character === '\n' || character === '\r') {
      if (character === '\r' && text[index + 1] === '\n') index++;
      row.push(field);
      if (row.length > 1 || row[0] !== '') rows.push(row);
      row = [];
      field = '';
    } else field += character;
  }
  if (field !== '' || row.length > 0) rows.push([...row, field]);
  return rows;
}
