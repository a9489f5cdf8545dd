"""forms.yml and sales.yml agree on the ways of meeting, or the service does not start."""
import copy
from zoneinfo import ZoneInfo

import pytest
import yaml

from capture.schema.agreement import check_agreement
from capture.schema.forms import load_schema, parse_schema
from capture.schema.sales import SalesError, load_sales, parse_sales

LONDON = ZoneInfo("Europe/London")


def real(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def with_kinds(kinds: list[str]) -> dict:
    raw = copy.deepcopy(real("sales.yml"))
    raw["consultation"]["meeting"] = {"kinds": kinds, "video_url": "https://meet.example/x"} if "video" in kinds \
        else {"kinds": kinds}
    return raw


def test_the_real_files_agree():
    schema = load_schema("forms.yml")
    check_agreement(schema, load_sales("sales.yml", LONDON, schema.forms))


def test_a_form_offering_a_kind_sales_does_not_hold_is_one_line_naming_both_files():
    schema = load_schema("forms.yml")
    sales = parse_sales(with_kinds(["phone"]), LONDON, schema.forms)
    with pytest.raises(SalesError) as caught:
        check_agreement(schema, sales)
    assert str(caught.value) == ("sales.yml: consultation.meeting.kinds (phone) and forms.yml: form 'consultation' "
                                 "field 'meeting_kind' (video, phone) must offer the same kinds")


def test_the_order_does_not_matter_and_no_consultation_means_nothing_to_agree_on():
    raw = copy.deepcopy(real("forms.yml"))
    schema = parse_schema(raw)
    check_agreement(schema, parse_sales(with_kinds(["video", "phone"]), LONDON, schema.forms))
    without = copy.deepcopy(real("sales.yml"))
    del without["consultation"]
    check_agreement(schema, parse_sales(without, LONDON, schema.forms))


def test_the_service_refuses_to_start_when_they_disagree(make_app, tmp_path, capsys):
    path = tmp_path / "sales.yml"
    path.write_text(yaml.safe_dump(with_kinds(["video"])), encoding="utf-8")
    with pytest.raises(SystemExit) as stopped:
        make_app(sales=str(path))
    assert stopped.value.code == 4
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"capture: {path}: consultation.meeting.kinds (video) and ")
    assert err[0].endswith("forms.yml: form 'consultation' field 'meeting_kind' (video, phone) must offer the same kinds")
