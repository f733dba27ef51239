//! Writes a CSV file as an XLSX workbook, numbers as number cells, for the
//! XLSX import benchmark (bench/xlsx_import_bench.sh): the same rows in the
//! two formats officers send.
//!
//!   cargo run --release -p chiase-io --example csv_to_xlsx -- IN.csv OUT.xlsx

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, input, output] = args.as_slice() else {
        return Err("usage: csv_to_xlsx IN.csv OUT.xlsx".into());
    };
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet_with_constant_memory()?;
    sheet.set_name("Dữ liệu")?;
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_path(input)?;
    for (r, record) in reader.records().enumerate() {
        let record = record?;
        for (c, cell) in record.iter().enumerate() {
            let (r, c) = (r as u32, c as u16);
            // Plain numbers as numbers (as Excel keeps them); codes with a leading zero stay text.
            match cell.parse::<f64>() {
                Ok(x) if r > 0 && !(cell.starts_with('0') && cell.len() > 1 && !cell.starts_with("0.")) => sheet.write_number(r, c, x)?,
                _ => sheet.write_string(r, c, cell)?,
            };
        }
    }
    book.save(output)?;
    Ok(())
}
