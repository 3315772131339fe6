"""The category tree, departments and districts come from the configuration file (desk.workorders)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from callcenter.auth.services import Actor
from callcenter.config import ConfigError, load_config
from callcenter.desk.base import environment
from callcenter.desk.i18n import Translator
from callcenter.workorders import states as st
from callcenter.workorders.services import Services

TREE = """
desk:
  workorders:
    number_prefix: YN
    districts: [五华区, 盘龙区]
    departments:
      - {code: water, name: 市水务局, name_en: Water Bureau}
    categories:
      - code: city
        name: 城市管理
        name_en: City management
        children:
          - code: city.lights
            name: 路灯
            children:
              - {code: city.lights.broken, name: 路灯不亮, name_en: Broken street light}
      - {code: other, name: 其他}
"""


def test_a_configured_tree_is_what_orders_and_pages_use(tmp_path: Path) -> None:
    cfg = tmp_path / "callcenter.yaml"
    cfg.write_text(TREE, encoding="utf-8")
    settings = load_config(cfg, env={}).desk.workorders
    assert list(settings.category_codes()) == ["city", "city.lights", "city.lights.broken", "other"]
    svc = Services(settings)
    assert svc.clean_fields({"category": "city.lights.broken"}) == {"category": "city.lights.broken"}
    with pytest.raises(st.WorkOrderError) as err:
        svc.clean_fields({"category": "housing.fund"})  # a default category, not in this tree
    assert err.value.text("zh") == "没有“housing.fund”这个分类"
    with pytest.raises(st.WorkOrderError, match="unknown department"):
        svc._department("fund")
    assert settings.number_prefix == "YN" and settings.districts == ("五华区", "盘龙区")
    # the order form offers the configured tree, in the reader's language
    t = Translator("en")
    cats = settings.category_codes()
    html = environment().get_template("_order_fields.html").render(
        _=t, values={}, districts=settings.districts, category_list=list(cats.values()), urgencies=("normal",),
        cat_name=lambda c: t.name(cats.get(c)) or c)
    assert re.search(r'<option value="city.lights.broken"\s*>\u3000Broken street light</option>', html)
    assert "Housing" not in html and "盘龙区" in html


def test_codes_are_unique_in_the_whole_tree(tmp_path: Path) -> None:
    cfg = tmp_path / "callcenter.yaml"
    cfg.write_text(TREE.replace("code: other", "code: city.lights"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"category codes must be unique.*city\.lights"):
        load_config(cfg, env={})
    cfg.write_text(TREE.replace("{code: water, name: 市水务局, name_en: Water Bureau}",
                                "{code: water, name: 市水务局}\n      - {code: water, name: 水务}"), encoding="utf-8")
    with pytest.raises(ConfigError, match="department codes must be unique"):
        load_config(cfg, env={})


def test_an_actor_needs_a_role_that_may_create() -> None:
    svc = Services(load_config(None, env={}).desk.workorders)
    with pytest.raises(st.Forbidden) as err:
        svc.create(None, Actor(1, "qc", "quality_inspector"), "call", {})  # type: ignore[arg-type]
    assert err.value.text("zh") == "“质检员”不能新建工单"
