"""The look of the web app: one theme (system fonts, nothing fetched from the internet), page CSS and headers."""

from __future__ import annotations

import html

import gradio as gr


def theme() -> gr.themes.Base:
    """A calm teal theme with system fonts (the app must work without internet access)."""
    system_fonts = ("ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif")
    return gr.themes.Soft(
        primary_hue="teal",
        secondary_hue="slate",
        neutral_hue="slate",
        radius_size="md",
        font=system_fonts,
        font_mono=("ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"),
    )


CSS = """
.gradio-container { max-width: 1100px !important; margin: 0 auto !important; }
#tanya-header, #staff-header { margin-bottom: 4px; }
.tanya-brand { display: flex; align-items: center; justify-content: space-between; gap: 16px;
  padding: 14px 18px; border-radius: 12px; color: #fff;
  background: linear-gradient(120deg, #0f766e 0%, #0d9488 60%, #14b8a6 100%); }
.tanya-brand h1 { margin: 0; font-size: 1.45rem; line-height: 1.2; color: #fff; }
.tanya-brand p { margin: 2px 0 0; opacity: .92; font-size: .95rem; color: #fff; }
.tanya-brand a { color: #fff; font-weight: 600; text-decoration: none; border: 1px solid rgba(255,255,255,.6);
  padding: 6px 12px; border-radius: 999px; white-space: nowrap; }
.tanya-brand a:hover { background: rgba(255,255,255,.15); }
.tanya-source { display: inline-block; margin-top: 2px; font-size: .82rem; color: #475569;
  background: #f1f5f9; border-radius: 6px; padding: 3px 8px; }
.tanya-source code { font-size: .78rem; background: transparent; }
.tanya-note { font-size: .85rem; color: #0f766e; }
.tanya-officer { font-size: .82rem; font-weight: 700; color: #7c3aed; }
.tanya-status { background: #ecfdf5; border: 1px solid #99f6e4; border-radius: 10px; padding: 8px 12px; }
.tanya-hint { font-size: .82rem; color: #64748b; }
.tanya-kpis { display: grid; grid-template-columns: repeat(5, minmax(0, 1fr)); gap: 10px; }
.tanya-kpi { border: 1px solid #e2e8f0; border-radius: 10px; padding: 10px 12px; background: #fff; }
.tanya-kpi b { display: block; font-size: 1.5rem; color: #0f766e; }
.tanya-kpi span { font-size: .8rem; color: #475569; }
.tanya-card { border: 1px solid #e2e8f0; border-radius: 10px; padding: 4px 8px; }
.tanya-ok { color: #047857; }
.tanya-warn { color: #b45309; }
"""

CUSTOMER_HEADER = """
<div class="tanya-brand">
  <div>
    <h1>💬 Tanya — Asisten Layanan Pelanggan</h1>
    <p>Jawaban cepat soal pulsa, kuota, paket, kartu SIM, tagihan dan roaming · Customer service assistant</p>
  </div>
  <a href="staff/" title="Konsol petugas, editor konten dan analitik">Area staf / Staff →</a>
</div>
"""


def staff_header(user: str, roles: str) -> str:
    """The staff page's header with who is logged in (the log-out button is beside it, ui/staff_page.py)."""
    return f"""
<div class="tanya-brand">
  <div>
    <h1>🛠️ Tanya — Area Staf / Staff</h1>
    <p>Masuk sebagai / Signed in as <b>{html.escape(user)}</b> · {html.escape(roles)}</p>
  </div>
</div>
"""
