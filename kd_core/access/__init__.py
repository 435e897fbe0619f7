"""Who may reach a shared server and what they may touch.

- `accounts`: the hashed accounts file (`kd-studio users`, `serve --auth-file`);
- `roles`: admin and curator, and the action every web event declares;
- `gate`: every path a browser sends, confined to the projects root and models folders;
- `signin`: back-off after failed sign-ins.
"""

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
