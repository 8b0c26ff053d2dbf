"""The seed tutorials' protected routes, ported to authgate_fastapi (the README shows this)."""

from fastapi import Depends, FastAPI

from authgate_fastapi import AuthgateBearer, Claims, require_roles


def make_app(base_url: str, credential: str) -> FastAPI:
    bearer = AuthgateBearer(base_url, verifier_credential=credential)
    app = FastAPI(lifespan=bearer.lifespan)

    @app.post("/user/details")  # seed 004: Depends(auth_handler.JWTBearer()) gave the e-mail
    async def user_details(claims: Claims = Depends(bearer)):
        return {"email": claims.email}

    @app.get("/users/me")  # seeds 000-003: Depends(get_current_user)
    async def read_users_me(claims: Claims = Depends(bearer)):
        return {"id": claims.sub, "username": claims.username, "roles": claims.roles}

    @app.get("/admin/users")  # seed 003: Depends(get_current_superuser)
    async def list_users(claims: Claims = Depends(require_roles("admin"))):
        return {"admin": claims.sub}

    return app
