from flask_babel import lazy_gettext as _l
from ..forms import Form
from wtforms import BooleanField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length


# Fields that several forms share, built per form (each call is a new unbound field, so the
# forms keep their own field order and can't share state).
def _identifier():
    return StringField(_l("Email or mobile number"), validators=[
        DataRequired(_l("Enter your email or mobile number.")), Length(max=254)],
        render_kw={"autocomplete": "username", "autocapitalize": "none"})


def _new_password(label):
    return PasswordField(label, validators=[
        DataRequired(_l("Choose a password.")), Length(max=200)],
        render_kw={"autocomplete": "new-password"},
        description=_l("At least 10 characters, with letters and digits."))


def _repeated_password():
    return PasswordField(_l("Repeat the password"), validators=[
        DataRequired(_l("Repeat the password.")),
        EqualTo("password", _l("The two passwords are different."))],
        render_kw={"autocomplete": "new-password"})


class LoginForm(Form):
    identifier = _identifier()
    password = PasswordField(_l("Password"), validators=[
        DataRequired(_l("Enter your password.")), Length(max=200)],
        render_kw={"autocomplete": "current-password"})
    remember = BooleanField(_l("Keep me logged in on this device"))
    next = HiddenField()


class RegisterForm(Form):
    display_name = StringField(_l("Your name"), validators=[
        DataRequired(_l("Tell us what to call you.")), Length(max=80)],
        render_kw={"autocomplete": "name"})
    identifier = _identifier()
    password = _new_password(_l("Password"))
    confirm = _repeated_password()


class LocaleForm(Form):
    locale = SelectField(_l("Language"), choices=[("en", "English"), ("zh_Hans", "简体中文")])
    next = HiddenField()


class ForgotPasswordForm(Form):
    identifier = _identifier()


class ResetPasswordForm(Form):
    password = _new_password(_l("New password"))
    confirm = _repeated_password()
