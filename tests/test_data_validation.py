"""The data files are validated at load against the schema in snippets/schema.py: every bad cell
fails with the file, the line, the row's name, the column and what is wrong."""

import csv
import io
from importlib import resources

import pytest

from snippets import hardware, models, schema
from snippets.schema import DataFileError


def real_text(filename: str) -> str:
    return resources.files("snippets").joinpath("data", filename).read_text(encoding="utf-8")


def edited(filename: str, row_name: str, column: str, value: str) -> tuple[str, int]:
    """The real file's text with one cell changed, and the line that row is on."""
    rows = list(csv.reader(io.StringIO(real_text(filename), newline="")))
    index = next(i for i, row in enumerate(rows) if row[0] == row_name)
    rows[index][rows[0].index(column)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue(), index + 1  # no cell spans lines in these files (checked below)


def problem(error: pytest.ExceptionInfo) -> schema.Problem:
    assert len(error.value.problems) == 1, str(error.value)
    return error.value.problems[0]


def test_the_real_files_validate():
    assert len(hardware.load_accelerators()) == 28
    assert len(models.load_models()) == 23
    for filename in ("hardware.csv", "models.csv"):
        assert len(real_text(filename).splitlines()) == len(list(csv.reader(io.StringIO(real_text(filename))))), \
            "a quoted cell spans lines; edited() would give the wrong line"


def test_schema_knows_the_same_architectures_as_the_parameter_counts():
    assert schema.ARCHITECTURES == models.ARCHITECTURES


HARDWARE_CASES = [
    ("memory_GB", "nan", "finite number"),
    ("memory_GB", "inf", "finite number"),
    ("memory_GB", "-80", "greater than 0"),
    ("memory_GB", "0", "greater than 0"),
    ("memory_GB", "eighty", "valid number"),
    ("memory_GB", "", "blank, but a value is required"),
    ("memory_bandwidth_GBps", "NaN", "finite number"),
    ("memory_bandwidth_GBps", "2,039", "valid number"),
    ("dense_fp8_TFLOPS", "nan", "finite number"),  # optional, but never NaN
    ("TDP_W", "-400", "greater than 0"),
    ("release_year", "20", "greater than or equal to 1990"),
    ("memory_type", "SRAM", "must start with HBM, GDDR, LPDDR"),
    ("source", " ", "blank, but a value is required"),
    ("ridge_point_dense16_FLOP_per_byte", "156", "disagrees with dense_fp16_bf16_TFLOPS / memory_bandwidth_GBps"),
    ("ecc_reserved_fraction", "0.7", "less than 0.5"),
    ("ecc_source", "a page", "given, but ecc_reserved_fraction is blank"),
]


def test_ecc_share_needs_a_source():
    text, line = edited("hardware.csv", "NVIDIA L4", "ecc_source", "")
    with pytest.raises(DataFileError) as error:
        hardware.load_accelerators(text=text)
    found = problem(error)
    assert (found.line, found.column) == (line, "ecc_source") and "ecc_reserved_fraction is given" in found.message


def test_ecc_share_is_for_gddr_only():
    text, _ = edited("hardware.csv", "NVIDIA A100 80GB SXM", "ecc_reserved_fraction", "0.0625")
    rows = list(csv.reader(io.StringIO(text)))
    index = next(i for i, row in enumerate(rows) if row[0] == "NVIDIA A100 80GB SXM")
    rows[index][rows[0].index("ecc_source")] = "a source"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    with pytest.raises(DataFileError, match="only GDDR keeps ECC bits in its own capacity"):
        hardware.load_accelerators(text=out.getvalue())


@pytest.mark.parametrize(("column", "value", "message"), HARDWARE_CASES)
def test_bad_hardware_cell(column, value, message):
    text, line = edited("hardware.csv", "NVIDIA A100 80GB SXM", column, value)
    with pytest.raises(DataFileError) as error:
        hardware.load_accelerators(text=text)
    found = problem(error)
    assert (found.line, found.row_name, found.column) == (line, "NVIDIA A100 80GB SXM", column)
    assert message in found.message
    assert str(error.value).startswith(f"<text for hardware.csv>, line {line} (NVIDIA A100 80GB SXM), column {column}:")


MODEL_CASES = [
    ("n_layers", "-28", "greater than 0"),
    ("n_layers", "0", "greater than 0"),
    ("n_layers", "28.5", "valid integer"),
    ("n_layers", "nan", "valid integer"),
    ("d_model", "abc", "valid integer"),
    ("n_heads", "", "blank, but a value is required"),
    ("head_dim", "-128", "greater than 0"),
    ("vocab_size", "0", "greater than 0"),
    ("max_position_embeddings", "inf", "valid integer"),
    ("params_total_B", "nan", "finite number"),
    ("architecture", "gpt5", "Input should be 'gpt2', 'opt'"),
    ("attention_kind", "MHA2", "Input should be 'MHA', 'GQA', 'MQA' or 'MLA'"),
    ("attention_kind", "MHA", "make GQA, not MHA"),
    ("n_kv_heads", "5", "does not divide n_heads"),
    ("tied_embeddings", "maybe", "valid boolean"),
    ("sliding_window", "-1", "greater than 0"),
]


@pytest.mark.parametrize(("column", "value", "message"), MODEL_CASES)
def test_bad_model_cell(column, value, message):
    text, line = edited("models.csv", "Llama-3.1-8B", column, value)
    with pytest.raises(DataFileError) as error:
        models.load_models(text=text)
    found = problem(error)
    assert (found.line, found.row_name, found.column) == (line, "Llama-3.1-8B", column)
    assert message in found.message


def test_negative_layers_no_longer_publish_negative_sizes():
    text, line = edited("models.csv", "Qwen2.5-7B", "n_layers", "-28")
    with pytest.raises(DataFileError, match=rf"line {line} \(Qwen2.5-7B\), column n_layers: Input should be greater than 0; got '-28'"):
        models.load_models(text=text)


def test_duplicate_names_after_normalising():
    text, line = edited("hardware.csv", "NVIDIA H100 PCIe", "name", "nvidia a100 80gb sxm")
    with pytest.raises(DataFileError) as error:
        hardware.load_accelerators(text=text)
    found = problem(error)
    assert (found.line, found.column) == (line, "name")
    assert "duplicates line" in found.message and "(NVIDIA A100 80GB SXM)" in found.message
    text, _ = edited("models.csv", "Llama-2-13B", "name", "llama 2 7b")
    with pytest.raises(DataFileError, match=r"column name: duplicates line \d+ \(Llama-2-7B\)"):
        models.load_models(text=text)


@pytest.mark.parametrize(("filename", "column"), [("hardware.csv", "memory_GB"), ("models.csv", "n_kv_heads"),
                                                  ("hardware.csv", "TDP_W"), ("models.csv", "sliding_window")])
def test_missing_column(filename, column):
    rows = list(csv.reader(io.StringIO(real_text(filename))))
    drop = rows[0].index(column)
    text = "\n".join(",".join(f'"{c}"' for i, c in enumerate(row) if i != drop) for row in rows)
    load = hardware.load_accelerators if filename == "hardware.csv" else models.load_models
    with pytest.raises(DataFileError, match=rf"line 1, column {column}: missing column"):
        load(text=text)


def test_unknown_column_and_ragged_rows():
    text = real_text("hardware.csv").replace("TDP_W", "TDP_Watts", 1)
    with pytest.raises(DataFileError, match="column TDP_Watts: unknown column"):
        hardware.load_accelerators(text=text)
    lines = real_text("models.csv").splitlines()
    lines[3] += ",surplus"
    with pytest.raises(DataFileError, match=r"line 4 \(GPT-2 large\).*1 cell\(s\) beyond the header"):
        models.load_models(text="\n".join(lines))
    lines = real_text("models.csv").splitlines()
    lines[2] = "GPT-2 medium,0.355,0.355,24"
    with pytest.raises(DataFileError, match=r"line 3 \(GPT-2 medium\), column d_model: row ends early"):
        models.load_models(text="\n".join(lines))


def test_every_problem_is_reported_not_just_the_first():
    text, _ = edited("models.csv", "Llama-2-7B", "n_layers", "-32")
    text = text.replace("Llama-3.1-8B,8.030", "Llama-3.1-8B,nan", 1)
    with pytest.raises(DataFileError) as error:
        models.load_models(text=text)
    assert [(p.row_name, p.column) for p in error.value.problems] == [
        ("Llama-2-7B", "n_layers"), ("Llama-3.1-8B", "params_total_B")]


def test_blank_optional_cells_are_none_never_zero():
    a10g = next(a for a in hardware.load_accelerators() if a.name.startswith("NVIDIA A10G"))
    assert a10g.dense_fp16_bf16_TFLOPS is None and a10g.TDP_W is None and a10g.cache_MB is None
    with pytest.raises(ValueError, match="no published dense bf16"):
        a10g.peak_flops("bf16")
    llama = models.get("Llama-2-7B")
    assert llama.n_routed_experts is None and llama.sliding_window is None
    assert models.get("Mixtral-8x7B-v0.1").n_shared_experts == 0  # a real zero stays zero


def test_load_from_a_path_names_the_path(tmp_path):
    text, line = edited("hardware.csv", "NVIDIA H200 SXM", "memory_GB", "nan")
    path = tmp_path / "my-hardware.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataFileError, match=rf"my-hardware.csv, line {line} \(NVIDIA H200 SXM\), column memory_GB"):
        hardware.load_accelerators(path=path)
    assert len(models.load_models(path=resources.files("snippets").joinpath("data", "models.csv"))) == 23


def test_unknown_names_in_quant_measurements_are_one_error_naming_file_line_and_column():
    from snippets import quant_measurements

    text = resources.files("snippets").joinpath("data", "quant_measurements.csv").read_text(encoding="utf-8")
    bad = text.replace(",Llama-2-7B,Llama-2-7B,", ",Llama-2-7B,Llama-9-7B,", 1)  # model, spec_model
    with pytest.raises(DataFileError) as raised:
        quant_measurements.load(bad)
    problems = raised.value.problems
    assert len(problems) == 1 and problems[0].line == 2 and problems[0].column == "spec_model"
    assert str(problems[0]).startswith("<text for quant_measurements.csv>, line 2 (") and "Llama-9-7B" in str(problems[0])


def test_a_cell_over_the_csv_size_limit_names_file_and_line():
    text = resources.files("snippets").joinpath("data", "hardware.csv").read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    lines[3] = lines[3].replace(",NVIDIA,", "," + "x" * 140_000 + ",", 1)
    with pytest.raises(DataFileError, match=r"hardware.csv>, line 4, .*field larger than field limit"):
        hardware.load_accelerators("".join(lines))
