"""The `thidua` command line (typer + rich): one module per command group, mounted here.

Every command that prints data takes --json for scripts; dates are dd/mm/yyyy."""

from __future__ import annotations

import typer

from cli.common import ThiduaGroup, VerboseOpt
from cli.consult import consult_app
from cli.database import db_app, sample_app
from cli.deadlines import changeover_command, deadlines_app
from cli.decisions import decision_app
from cli.demo import demo_command
from cli.documents import docs_app
from cli.mail import mail_app
from cli.meetings import meeting_app
from cli.nominations import inbox, nominate, resubmit_command, status, units
from cli.reports import remind_command, report_app
from cli.users import portal_command, users_app
from supervisor.up import up

app = typer.Typer(
    help="thidua — thi đua, khen thưởng phong trào «Chung sức xây dựng nông thôn mới»",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=ThiduaGroup,
)


@app.callback()
def _root(verbose: VerboseOpt = False) -> None:
    """thidua — thi đua, khen thưởng phong trào «Chung sức xây dựng nông thôn mới».

    Nhật ký chi tiết (Prefect, lỗi) ghi vào <THIDUA_DATA_DIR>/logs/cli.log; --verbose in cả ra màn hình."""
    # ThiduaGroup reads --verbose before the command runs (logs, umask, errors); nothing else to do here


app.add_typer(db_app, name="db")
app.add_typer(sample_app, name="sample")
app.command()(nominate)
app.command()(status)
app.command()(inbox)
app.command()(units)
app.command("up")(up)
app.add_typer(meeting_app, name="meeting")
app.add_typer(decision_app, name="decision")
app.command("resubmit")(resubmit_command)
app.command("demo")(demo_command)
app.add_typer(mail_app, name="mail", help="Thư đã gửi / hộp thư thử nghiệm")
app.add_typer(report_app, name="report")
app.command("remind")(remind_command)
app.add_typer(deadlines_app, name="deadlines")
app.command("changeover")(changeover_command)
app.add_typer(consult_app, name="consult")
app.add_typer(docs_app, name="docs")
app.add_typer(users_app, name="users")
app.command("portal")(portal_command)

if __name__ == "__main__":
    app()
