# authgate-bench: not in the tutorial's text (main.py includes it, the seed omits it); the
# smallest router that uses the tutorial's own role dependencies (dependencies/roles.py).
from fastapi import APIRouter, Depends

from dependencies.roles import admin_role, moderator_role, user_role

router = APIRouter(prefix="/api/test")


@router.get("/user")
def user_content(current_user=Depends(user_role)):
    return "user content"


@router.get("/mod")
def moderator_content(current_user=Depends(moderator_role)):
    return "moderator content"


@router.get("/admin")
def admin_content(current_user=Depends(admin_role)):
    return "admin content"
