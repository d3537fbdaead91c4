"""The customer's program in the scripted fault: a mail client that cannot reach its server.

Reads ``mail.ini`` (path given as argv[1]) twice a second and shows, in large letters, whether its
``server`` setting is right (``mail.example.net``): red "Cannot reach mail.exmaple.net" while it is
wrong, green "Connected to mail.example.net" once fixed.  A second window, "Bank statement", holds
a secret colour: the customer hides it (``--hide-window``), so recordings must show only the fill.
"""

from __future__ import annotations

import configparser
import sys
import tkinter as tk
from pathlib import Path

GOOD = "mail.example.net"
SECRET_COLOUR = "#12d4a7"


def main() -> None:
    ini = Path(sys.argv[1])
    root = tk.Tk()
    root.title("Mail")
    root.geometry("900x420+40+40")
    label = tk.Label(root, font=("DejaVu Sans", 30, "bold"), width=40, height=4)
    label.pack(fill="both", expand=True)
    detail = tk.Label(root, font=("DejaVu Sans", 16))
    detail.pack()
    secret = tk.Toplevel(root)
    secret.title("Bank statement")
    secret.geometry("360x240+900+480")
    tk.Label(secret, text="Balance: 12 345.67", bg=SECRET_COLOUR, font=("DejaVu Sans", 20)).pack(
        fill="both", expand=True)

    def poll() -> None:
        parser = configparser.ConfigParser()
        try:
            parser.read_string(ini.read_text(encoding="utf-8"))
            server = parser.get("mail", "server", fallback="")
        except (OSError, configparser.Error):
            server = ""
        if server == GOOD:
            label.configure(text=f"Connected to {server}", bg="#2e7d32", fg="white")
            detail.configure(text="3 new messages")
        else:
            label.configure(text=f"Cannot reach {server or '(no server)'}", bg="#c62828", fg="white")
            detail.configure(text=f"Settings: {ini}")
        root.after(500, poll)

    poll()
    root.mainloop()


if __name__ == "__main__":
    main()
