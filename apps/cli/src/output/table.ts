/** A column of a text table. */
export interface Column<Row> {
  header: string;
  value(row: Row): string;
  /** Right-align (numbers, sizes). */
  right?: boolean;
}

/** Renders rows as an aligned plain-text table (no colours, no box drawing: greppable). */
export function renderTable<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): string {
  const cells = rows.map((row) => columns.map((column) => column.value(row)));
  const widths = columns.map((column, index) => Math.max(column.header.length, ...cells.map((line) => (line[index] ?? '').length)));
  const renderLine = (values: readonly string[]): string =>
    values
      .map((value, index) => (columns[index]?.right ? value.padStart(widths[index] ?? 0) : value.padEnd(widths[index] ?? 0)))
      .join('  ')
      .trimEnd();
  return [renderLine(columns.map((column) => column.header)), ...cells.map(renderLine)].join('\n');
}
