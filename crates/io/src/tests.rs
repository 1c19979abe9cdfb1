use super::*;

fn parse(text: &str) -> Result<CsvComparisons, ReadError> {
    parse_comparisons_csv(text.as_bytes(), "t.csv")
}

fn err_of(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn difference_and_paired_columns() {
    let c = parse("price_a,y,time,price_b,w,respondent\n3,1,0.5,1,2,alice\n1,0,-1,4,1,bob\n2,-1,2,2,1,alice\n").unwrap();
    let d = &c.data;
    assert_eq!(d.feature_names(), ["price", "time"]);
    assert_eq!(d.z(), [2.0, 0.5, -3.0, -1.0, 0.0, 2.0]);
    assert_eq!(d.y(), [1.0, -1.0, -1.0]);
    assert_eq!(d.weights().unwrap(), [2.0, 1.0, 1.0]);
    assert_eq!(d.respondents().unwrap(), [0, 1, 0]);
    assert_eq!(c.respondent_labels.unwrap(), ["alice", "bob"]);
    assert_eq!(c.feature_sources[0], "price = price_a - price_b");
}

#[test]
fn labels_accept_plus_minus_one_and_zero() {
    let c = parse("x,y\n1,+1\n2,1.0\n3,-1\n4,0\n").unwrap();
    assert_eq!(c.data.y(), [1.0, 1.0, -1.0, -1.0]);
}

#[test]
fn errors_name_file_line_and_column() {
    assert_eq!(
        err_of("x,z\n1,2\n3,4\n"),
        "t.csv:1: no 'y' column (the answer: 1 if the first alternative was preferred, -1 or 0 otherwise); header is: x,z"
    );
    assert_eq!(
        err_of("x,y\n1,1\n2,1,5\n"),
        "t.csv:3: expected 2 fields (as in the header), found 3"
    );
    assert_eq!(
        err_of("x,y\n1,1\nabc,1\n"),
        "t.csv:3: column 'x': expected a number, found 'abc'"
    );
    assert_eq!(
        err_of("x,y\n1,1\nNaN,1\n"),
        "t.csv:3: column 'x': 'NaN' is not a finite number"
    );
    assert_eq!(
        err_of("x,y\n1,1\ninf,1\n"),
        "t.csv:3: column 'x': 'inf' is not a finite number"
    );
    assert_eq!(
        err_of("x,y\n1,1\n2,2\n"),
        "t.csv:3: column 'y': expected 1, 0 or -1, found '2'"
    );
    assert_eq!(
        err_of("x,y\n1,1\n2,yes\n"),
        "t.csv:3: column 'y': expected 1, 0 or -1, found 'yes'"
    );
    assert_eq!(
        err_of("x,y\n1,1\n"),
        "t.csv: need at least 2 data rows, found 1"
    );
    assert_eq!(
        err_of("y,w\n1,1\n0,1\n"),
        "t.csv:1: no feature columns: besides y, w, respondent and task, give difference columns or NAME_a/NAME_b pairs"
    );
    assert_eq!(
        err_of("x,y,x\n1,1,1\n0,1,1\n"),
        "t.csv:1: duplicate column 'x' (columns 1 and 3)"
    );
    assert_eq!(
        err_of("p_a,y\n1,1\n0,1\n"),
        "t.csv:1: column 'p_a' has no partner 'p_b' (paired columns NAME_a, NAME_b give the feature NAME = NAME_a - NAME_b)"
    );
    assert_eq!(
        err_of("x,y,w\n1,1,0\n0,1,1\n"),
        "t.csv:2: column 'w': weights must be > 0, found '0'"
    );
    assert_eq!(
        err_of("x,y\n1,1\n,1\n"),
        "t.csv:3: column 'x': expected a number, found ''"
    );
    assert_eq!(
        err_of(""),
        "t.csv: empty file: expected a header line naming the columns"
    );
    assert_eq!(
        err_of("p,p_a,p_b,y\n1,1,1,1\n1,1,1,1\n"),
        "t.csv:1: feature 'p' appears both as a column and as the pair p_a/p_b"
    );
}

#[test]
fn invalid_utf8_is_an_error_not_a_panic() {
    let bytes = b"x,y\n1,1\n\xff\xfe,1\n";
    let e = parse_comparisons_csv(&bytes[..], "t.csv").unwrap_err();
    assert!(e.to_string().starts_with("t.csv:3:"), "{e}");
}

#[test]
fn missing_file_is_named() {
    let e = read_comparisons_csv(Path::new("/nonexistent/dir/file.csv")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("/nonexistent/dir/file.csv: cannot open"),
        "{e}"
    );
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Arbitrary text (biased toward CSV-like characters) never panics the reader.
        #[test]
        fn arbitrary_input_never_panics(text in "[xy_abw,0-9.\\-+\n\" eEinfa]{0,200}") {
            let _ = parse(&text);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_comparisons_csv(&bytes[..], "t.csv");
        }
    }
}
