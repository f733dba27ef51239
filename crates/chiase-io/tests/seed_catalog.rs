//! The real Decision 641/QĐ-UBND file, parsed and checked row by row against
//! what the decision says (see ../shared/CONTEXT.md for the same table in
//! English).

use chiase_core::catalog::{Cadence, Channel};
use chiase_core::sharing::{DerivationBasis, SharingMode};
use chiase_io::decision_table::{BUILTIN_641, parse_catalog};

use Cadence::{Continuous as C, OnChange as Ch, Unspecified as U, Yearly as Y};
use Channel::{ApiSync, CitizenSubmission, CompiledByOwner, Digitisation, Exchange, SelfEntry};
use SharingMode::{Default as D, Legal as L, Open as O, Specific as S};

struct Expected {
    no: i64,
    name: &'static str,
    owner: &'static str,
    modes: &'static [SharingMode],
    cadence: Cadence,
    channels: &'static [Channel],
    /// (paragraphs, list items, sub-items) of the description.
    description: (usize, usize, usize),
    /// (paragraphs, list items, sub-items) of the mechanism.
    mechanism: (usize, usize, usize),
}

const NOI_VU: &str = "Sở Nội vụ";
const TNMT: &str = "Sở Tài nguyên và Môi trường";
const VHTTDL: &str = "Sở Văn hoá, Thể thao và Du lịch";
const TTTT: &str = "Sở Thông tin và Truyền thông";
const VP: &str = "Văn phòng UBND tỉnh";

#[rustfmt::skip]
const EXPECTED: [Expected; 31] = [
    Expected { no: 1, name: "CSDL Quản lý chấm điểm xác định Chỉ số cải cách hành chính các cấp tỉnh Tuyên Quang", owner: NOI_VU, modes: &[S], cadence: Ch, channels: &[SelfEntry], description: (1, 0, 0), mechanism: (1, 0, 0) },
    Expected { no: 2, name: "CSDL Khảo sát sự hài lòng của người dân, tổ chức đối với sự phục vụ của cơ quan hành chính nhà nước", owner: NOI_VU, modes: &[S], cadence: C, channels: &[CitizenSubmission], description: (1, 0, 0), mechanism: (1, 0, 0) },
    Expected { no: 3, name: "CSDL Quản lý tài liệu lưu trữ lịch sử tỉnh Tuyên Quang", owner: NOI_VU, modes: &[S], cadence: Ch, channels: &[SelfEntry, Digitisation], description: (1, 0, 0), mechanism: (1, 0, 0) },
    Expected { no: 4, name: "CSDL Quản lý hồ sơ cán bộ, công chức, viên chức, người lao động tỉnh Tuyên Quang", owner: NOI_VU, modes: &[S], cadence: Ch, channels: &[SelfEntry], description: (1, 0, 0), mechanism: (1, 0, 0) },
    Expected { no: 5, name: "CSDL Quản lý thi đua - khen thưởng", owner: NOI_VU, modes: &[S], cadence: Ch, channels: &[SelfEntry], description: (1, 0, 0), mechanism: (1, 0, 0) },
    Expected { no: 6, name: "CSDL Quản lý chấm điểm, đánh giá, xếp loại chất lượng hằng năm đối với các cơ quan, đơn vị; tập thể lãnh đạo, quản lý; lãnh đạo, quản lý các cơ quan, đơn vị thuộc và trực thuộc UBND tỉnh, các tổ chức Hội cấp tỉnh được giao số lượng người làm việc, UBND huyện, thành phố", owner: NOI_VU, modes: &[S], cadence: Y, channels: &[SelfEntry], description: (1, 0, 0), mechanism: (1, 0, 0) },
    Expected { no: 7, name: "Hệ thống CSDL công chứng, chứng thực và thông tin ngăn chặn", owner: "Sở Tư pháp", modes: &[S], cadence: Ch, channels: &[SelfEntry], description: (0, 3, 0), mechanism: (0, 3, 0) },
    Expected { no: 8, name: "CSDL Địa chính", owner: TNMT, modes: &[L], cadence: Ch, channels: &[CompiledByOwner], description: (0, 1, 0), mechanism: (0, 2, 0) },
    Expected { no: 9, name: "CSDL Môi trường", owner: TNMT, modes: &[L], cadence: Y, channels: &[CompiledByOwner], description: (0, 2, 0), mechanism: (0, 2, 0) },
    Expected { no: 10, name: "CSDL tài nguyên nước", owner: TNMT, modes: &[L], cadence: Y, channels: &[CompiledByOwner], description: (0, 3, 0), mechanism: (0, 2, 0) },
    Expected { no: 11, name: "CSDL khoáng sản", owner: TNMT, modes: &[L], cadence: Y, channels: &[CompiledByOwner], description: (0, 2, 0), mechanism: (0, 2, 0) },
    Expected { no: 12, name: "CSDL đất đai", owner: TNMT, modes: &[L], cadence: Y, channels: &[CompiledByOwner], description: (0, 2, 0), mechanism: (0, 2, 0) },
    Expected { no: 13, name: "CSDL IOCEduTuyenQuang", owner: "Sở Giáo dục và Đào tạo", modes: &[O], cadence: C, channels: &[ApiSync], description: (1, 0, 0), mechanism: (1, 0, 0) },
    Expected { no: 14, name: "CSDL Thư viện tỉnh", owner: VHTTDL, modes: &[O, D, S], cadence: C, channels: &[SelfEntry, Digitisation, Exchange], description: (0, 3, 3), mechanism: (0, 3, 0) },
    Expected { no: 15, name: "CSDL Du lịch", owner: VHTTDL, modes: &[O, D, S], cadence: Ch, channels: &[SelfEntry], description: (1, 0, 0), mechanism: (0, 2, 0) },
    Expected { no: 16, name: "CSDL Di sản văn hoá", owner: VHTTDL, modes: &[O, D, S], cadence: Ch, channels: &[CompiledByOwner], description: (1, 0, 0), mechanism: (1, 0, 0) },
    Expected { no: 17, name: "CSDL ngành Công Thương", owner: "Sở Công thương", modes: &[O], cadence: U, channels: &[], description: (1, 0, 0), mechanism: (0, 2, 0) },
    Expected { no: 18, name: "CSDL Theo dõi thực hiện nhiệm vụ", owner: VP, modes: &[D], cadence: C, channels: &[CompiledByOwner, Exchange], description: (1, 0, 0), mechanism: (1, 0, 0) },
    Expected { no: 19, name: "CSDL Công báo điện tử", owner: VP, modes: &[D], cadence: Ch, channels: &[CompiledByOwner], description: (1, 0, 0), mechanism: (1, 0, 0) },
    Expected { no: 20, name: "CSDL Công dịch vụ công tỉnh Tuyên Quang", owner: TTTT, modes: &[D], cadence: C, channels: &[CitizenSubmission, Exchange], description: (0, 2, 0), mechanism: (1, 0, 0) },
    Expected { no: 21, name: "CSDL nền tảng kết nối (LGSP) Tuyên Quang", owner: TTTT, modes: &[D], cadence: Ch, channels: &[CompiledByOwner], description: (0, 2, 0), mechanism: (1, 0, 0) },
    Expected { no: 22, name: "CSDL Quản lý văn bản và điều hành công việc", owner: TTTT, modes: &[D], cadence: C, channels: &[Digitisation, Exchange], description: (0, 2, 0), mechanism: (1, 0, 0) },
    Expected { no: 23, name: "Hệ thống thư điện tử công vụ tỉnh Tuyên Quang", owner: TTTT, modes: &[D], cadence: Ch, channels: &[SelfEntry], description: (0, 3, 0), mechanism: (1, 0, 0) },
    Expected { no: 24, name: "Cổng Thông tin điện tử tỉnh Tuyên Quang", owner: TTTT, modes: &[O], cadence: Ch, channels: &[CompiledByOwner], description: (0, 3, 0), mechanism: (1, 0, 0) },
    Expected { no: 25, name: "Hệ thống Quản lý trạm BTS", owner: TTTT, modes: &[D, S], cadence: Ch, channels: &[CompiledByOwner], description: (0, 3, 0), mechanism: (1, 0, 0) },
    Expected { no: 26, name: "Hệ thống Quản lý quy hoạch viễn thông thụ động", owner: TTTT, modes: &[O, D, S], cadence: Ch, channels: &[CompiledByOwner], description: (0, 3, 0), mechanism: (1, 0, 0) },
    Expected { no: 27, name: "CSDL đăng nhập tập trung", owner: TTTT, modes: &[D], cadence: Ch, channels: &[CompiledByOwner], description: (0, 2, 0), mechanism: (1, 0, 0) },
    Expected { no: 28, name: "Hệ thống quản lý CSDL Khoa học Công nghệ tỉnh Tuyên Quang", owner: "Sở Khoa học và Công nghệ", modes: &[O], cadence: C, channels: &[Exchange], description: (0, 3, 0), mechanism: (0, 2, 0) },
    Expected { no: 29, name: "CSDL ngành nông nghiệp, phát triển nông thôn", owner: "Sở Nông nghiệp và Phát triển nông thôn", modes: &[O, D, S], cadence: Y, channels: &[CompiledByOwner], description: (0, 2, 0), mechanism: (0, 2, 0) },
    Expected { no: 30, name: "CSDL về khu công nghiệp", owner: "BQL Các khu công nghiệp", modes: &[S], cadence: Ch, channels: &[CompiledByOwner], description: (0, 3, 0), mechanism: (1, 0, 0) },
    Expected { no: 31, name: "CSDL các Cổng/trang thông tin điện tử", owner: "Các sở, ban, ngành, UBND cấp huyện, cấp xã", modes: &[O], cadence: Ch, channels: &[CompiledByOwner], description: (0, 2, 0), mechanism: (1, 0, 0) },
];

fn shape(t: &chiase_core::text::CleanText) -> (usize, usize, usize) {
    (t.paragraphs.len(), t.items.len(), t.items.iter().map(|i| i.children.len()).sum())
}

#[test]
fn every_one_of_the_31_rows_is_derived_as_the_decision_states_it() {
    let parsed = parse_catalog("641.txt", BUILTIN_641.as_bytes()).expect("the seed parses");
    assert_eq!(parsed.entries.len(), 31);
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    for ((row, got), want) in parsed.entries.iter().zip(EXPECTED.iter()) {
        let at = format!("entry {} (line {})", want.no, row.line);
        assert_eq!(got.no, want.no, "{at}");
        assert_eq!(got.name, want.name, "{at}: name");
        assert_eq!(got.owner_name, want.owner, "{at}: owner");
        assert_eq!(got.sharing.modes, want.modes, "{at}: sharing modes");
        assert_eq!(got.cadence, want.cadence, "{at}: cadence");
        assert_eq!(got.channels, want.channels, "{at}: channels");
        assert_eq!(shape(&got.description), want.description, "{at}: description shape");
        assert_eq!(shape(&got.mechanism), want.mechanism, "{at}: mechanism shape");
        // Clean text never keeps markup.
        for text in [got.description.plain(), got.mechanism.plain(), got.category.clone(), got.name.clone()] {
            assert!(!text.contains('<') && !text.contains('>'), "{at}: markup left in «{text}»");
        }
        assert!(got.notes.is_empty(), "{at}: the decision has no notes");
    }
}

#[test]
fn verbatim_cells_are_kept_exactly_as_published() {
    let parsed = parse_catalog("641.txt", BUILTIN_641.as_bytes()).unwrap();
    let (row7, _) = &parsed.entries[6];
    assert!(row7.description.starts_with(r#"<ul style="list-style-type: none"> - Mục đích:"#));
    let (row26, _) = &parsed.entries[25];
    assert_eq!(row26.name, "Hệ thống Quản lý quy hoạch viễn thông thụ động.");
    let (row20, _) = &parsed.entries[19];
    assert_eq!(row20.name, "CSDL Công dịch vụ công tỉnh Tuyên Quang", "the typo of the original stays");
    assert_eq!(parsed.title_lines[0], "DANH MỤC CƠ SỞ DỮ LIỆU DÙNG CHUNG TỈNH TUYỀN QUANG");
}

#[test]
fn list_cells_become_items_with_sub_items() {
    let parsed = parse_catalog("641.txt", BUILTIN_641.as_bytes()).unwrap();
    let library = &parsed.entries[13].1;
    assert_eq!(library.description.items[0].text, "Mục đích:");
    assert_eq!(library.description.items[0].children[0], "Bảo quản, duy trì tuổi thọ của tài liệu.");
    assert_eq!(library.description.items[1].text, "Phạm vi: Hệ thống thư viện công cộng");
    let bts = &parsed.entries[24].1;
    assert_eq!(
        bts.description.plain(),
        "- Mục đích: Quản lý các trạm BTS trên địa bàn tỉnh.\n- Phạm vi: Toàn tỉnh.\n- Nội dung: Dữ liệu thông tin địa lý (dữ liệu không gian và dữ liệu thông tin) các trạm BTS."
    );
    let cadastral = &parsed.entries[7].1;
    assert_eq!(cadastral.mechanism.items[1].text, "Cập nhật khi có biến động về đất đai");
}

#[test]
fn entry_17_keeps_its_terms_of_use_and_entry_14_its_open_scope() {
    let parsed = parse_catalog("641.txt", BUILTIN_641.as_bytes()).unwrap();
    let trade = &parsed.entries[16].1;
    assert_eq!(trade.sharing.basis, DerivationBasis::TermsOfUse);
    let terms = trade.sharing.terms_of_use.as_deref().unwrap();
    assert!(terms.starts_with("Người sử dụng có thể tải về, lưu trữ hoặc in"));
    assert!(terms.ends_with("“Cơ sở dữ liệu ngành công thương Tuyên Quang”."));
    let library = &parsed.entries[13].1;
    assert_eq!(library.sharing.scopes.len(), 1);
    assert_eq!(library.sharing.scopes[0].mode, SharingMode::Open);
    assert_eq!(library.sharing.scopes[0].scope, "tài liệu địa chỉ");
}

#[test]
fn the_decision_is_read_from_the_title() {
    let parsed = parse_catalog("641.txt", BUILTIN_641.as_bytes()).unwrap();
    let (number, date) = parsed.decision_hint.unwrap();
    assert_eq!(number, "641/QĐ-UBND");
    assert_eq!(date.to_string(), "2022-06-06");
    assert_eq!(parsed.sha256.len(), 64);
}
